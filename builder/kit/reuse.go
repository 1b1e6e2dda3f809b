package kit

import (
	"errors"
	"fmt"
	"path/filepath"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/inputfile"
	"xroad-appliance/provisioner/metadata"
)

// previousKit is a kit read back for --reuse. Its secrets come from the CA
// files and the nodes' own role documents, the one place each is kept.
type previousKit struct {
	state     kitState
	ca        *certKey
	passwords passwords
	nodes     map[string]*prevNode
	// admin is the admin user the previous kit's documents carry.
	admin *metadata.AdminUser
}

// prevNode is one node of the previous kit. A kit made before every node had
// both SSH keys lacks the primary's user key and the secondaries' host keys;
// those are nil and get generated. Central-server nodes have none.
type prevNode struct {
	userData   []byte
	generation int
	cert       *certKey
	hostKey    *sshKey
	userKey    *sshKey
}

// The accessors accept a nil kit so that a fresh run needs no special case.

func (p *previousKit) node(name string) (*prevNode, bool) {
	if p == nil {
		return nil, false
	}
	n, ok := p.nodes[name]
	return n, ok
}

func (p *previousKit) cert(name string) *certKey {
	if n, ok := p.node(name); ok {
		return n.cert
	}
	return nil
}

func (p *previousKit) hostKey(name string) *sshKey {
	if n, ok := p.node(name); ok {
		return n.hostKey
	}
	return nil
}

func (p *previousKit) userKey(name string) *sshKey {
	if n, ok := p.node(name); ok {
		return n.userKey
	}
	return nil
}

// loadPrevious reads the kit in dir and checks that spec extends it: same
// kind of cluster, same cluster, same SSH key type, and a primary that is
// already a node of the kit.
func loadPrevious(dir string, spec *Spec, facts *profiles.Facts) (*previousKit, error) {
	st, old, err := readKitFiles(dir)
	if err != nil {
		return nil, err
	}
	if old.isCentralServer() != spec.isCentralServer() {
		return nil, fmt.Errorf("the kit is for a %s cluster and the spec describes a %s cluster; make a new kit", old.kind(), spec.kind())
	}
	if old.Cluster != spec.Cluster {
		return nil, fieldErr("cluster", "%q, but the kit is for cluster %q", spec.Cluster, old.Cluster)
	}
	if err := checkSSHKeyType(spec, st, facts); err != nil {
		return nil, err
	}

	p := &previousKit{state: *st, nodes: map[string]*prevNode{}}
	if p.ca, err = loadCA(dir, st); err != nil {
		return nil, err
	}
	for _, ns := range st.Nodes {
		if err := p.addNode(dir, ns, facts); err != nil {
			return nil, fmt.Errorf("nodes/%s: %w", ns.Name, err)
		}
	}
	if what := p.passwords.missing(spec.isCentralServer()); what != "" {
		return nil, fmt.Errorf("no node's document holds the %s", what)
	}
	if spec.isCentralServer() {
		err = checkDatabasePrimary(spec.CentralServer, old.CentralServer)
	} else {
		err = p.checkPrimary(spec.Primary.Name, old.Primary.Name)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// checkSSHKeyType refuses a profile whose SSH key type differs from the
// security servers' keys in the kit.
func checkSSHKeyType(spec *Spec, st *kitState, facts *profiles.Facts) error {
	if spec.isCentralServer() {
		return nil
	}
	if want := sshAlgo(facts.SSH.KeyType, facts.SSH.KeyBits); st.SSHKeyType != want {
		return fmt.Errorf("profile %s wants %s SSH keys, the kit has %s; make a new kit", facts.Name, want, st.SSHKeyType)
	}
	return nil
}

// readKitFiles reads kit.yaml and the spec echo cluster.yaml.
func readKitFiles(dir string) (*kitState, *Spec, error) {
	data, err := inputfile.Read(filepath.Join(dir, "kit.yaml"))
	if err != nil {
		return nil, nil, err
	}
	st, err := parseState(data)
	if err != nil {
		return nil, nil, fmt.Errorf("kit.yaml: %w", err)
	}
	if data, err = inputfile.Read(filepath.Join(dir, "cluster.yaml")); err != nil {
		return nil, nil, err
	}
	old, err := ParseSpec(data)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster.yaml: %w", err)
	}
	return st, old, nil
}

// loadCA reads the CA back and checks it is the one kit.yaml names.
func loadCA(dir string, st *kitState) (*certKey, error) {
	crt, err := inputfile.Read(filepath.Join(dir, "ca", "ca.crt"))
	if err != nil {
		return nil, err
	}
	key, err := inputfile.Read(filepath.Join(dir, "ca", "ca.key"))
	if err != nil {
		return nil, err
	}
	ca, err := parseCertKey(crt, key)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	if ca.fingerprint() != st.CA.SHA256 {
		return nil, errors.New("ca/ca.crt does not match kit.yaml")
	}
	return ca, nil
}

// addNode reads one node back with the passwords its document carries.
func (p *previousKit) addNode(dir string, ns nodeState, facts *profiles.Facts) error {
	n, doc, err := loadNode(dir, ns, facts)
	if err != nil {
		return err
	}
	if err := p.passwords.keepFrom(doc); err != nil {
		return err
	}
	if doc.AdminUser != nil {
		p.admin = doc.AdminUser
	}
	p.nodes[ns.Name] = n
	return nil
}

// checkPrimary lets a --reuse run change the primary only to a node of the
// previous kit with a host key in it: the running nodes already list that key
// as a peer's, so they can pin it as the new primary's.
func (p *previousKit) checkPrimary(newPrimary, oldPrimary string) error {
	if newPrimary == oldPrimary {
		return nil
	}
	n, ok := p.node(newPrimary)
	if !ok {
		return fieldErr("primary.name", "%q is not a node of the kit (its primary is %q); only an existing node can become the primary", newPrimary, oldPrimary)
	}
	if n.hostKey == nil {
		return fieldErr("primary.name", "the kit holds no host key of %q, so the cluster cannot pin it; keep %q as the primary in one --reuse run first, which gives every node its own", newPrimary, oldPrimary)
	}
	return nil
}

// checkDatabasePrimary lets a --reuse run change the database primary only
// to a database node of the previous kit: after a fail-over the promoted
// standby holds the data, any other node would start an empty database.
func checkDatabasePrimary(spec, old *CentralServer) error {
	newPrimary, oldPrimary := spec.Database.Primary.Name, old.Database.Primary.Name
	if newPrimary == oldPrimary || old.isDatabaseNode(newPrimary) {
		return nil
	}
	return fieldErr("centralServer.database.primary.name", "%q is not a database node of the kit (its primary is %q); only a standby of the kit can become the primary", newPrimary, oldPrimary)
}

// loadNode reads a node's material back from its user-data. The keys are taken
// from whichever role the node had: a former primary keeps its user key, a
// former secondary its host key.
func loadNode(dir string, ns nodeState, facts *profiles.Facts) (*prevNode, *metadata.Document, error) {
	ud, err := inputfile.Read(filepath.Join(dir, "nodes", ns.Name, "user-data"))
	if err != nil {
		return nil, nil, err
	}
	doc, err := roleDocument(ud)
	if err != nil {
		return nil, nil, err
	}
	if doc.Node != ns.Name {
		return nil, nil, fmt.Errorf("user-data is for node %q", doc.Node)
	}
	n := &prevNode{userData: ud, generation: ns.Generation}
	if n.cert, err = parseCertKey([]byte(doc.TLS.Cert), []byte(doc.TLS.Key)); err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	if n.hostKey, err = parseOptionalSSHKey(doc.SSH.HostKey, facts); err != nil {
		return nil, nil, fmt.Errorf("ssh host key: %w", err)
	}
	if n.userKey, err = parseOptionalSSHKey(doc.SSH.PrivateKey, facts); err != nil {
		return nil, nil, fmt.Errorf("ssh key: %w", err)
	}
	return n, doc, nil
}

// parseOptionalSSHKey reads a private key that an older kit may not have.
func parseOptionalSSHKey(private string, facts *profiles.Facts) (*sshKey, error) {
	if private == "" {
		return nil, nil
	}
	return parseSSHKey([]byte(private), facts.SSH.KeyType, facts.SSH.KeyBits)
}

// roleDocument extracts and parses the role document from a kit's
// user-data, with the checks a node applies to it at first boot.
func roleDocument(userData []byte) (*metadata.Document, error) {
	data, err := metadata.FromUserData(userData)
	if err != nil {
		return nil, fmt.Errorf("user-data: %w", err)
	}
	doc, err := metadata.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("user-data: %s: %w", metadata.RoleFile, err)
	}
	return doc, nil
}
