package kit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/metadata"
)

// previousKit is a kit read back for --reuse. Its secrets come from the CA
// files and the nodes' own role documents, the one place each is kept.
type previousKit struct {
	state    kitState
	ca       *certKey
	password string
	hostKey  *sshKey
	nodes    map[string]*prevNode
}

type prevNode struct {
	userData   []byte
	generation int
	cert       *certKey
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

func (p *previousKit) userKey(name string) *sshKey {
	if n, ok := p.node(name); ok {
		return n.userKey
	}
	return nil
}

// loadPrevious reads the kit in dir and checks that spec extends it: same
// cluster, same primary, same SSH key type.
func loadPrevious(dir string, spec *Spec, facts *profiles.Facts) (*previousKit, error) {
	read := func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, rel)) }

	data, err := read("kit.yaml")
	if err != nil {
		return nil, err
	}
	st, err := parseState(data)
	if err != nil {
		return nil, fmt.Errorf("kit.yaml: %w", err)
	}
	if data, err = read("cluster.yaml"); err != nil {
		return nil, err
	}
	old, err := ParseSpec(data)
	if err != nil {
		return nil, fmt.Errorf("cluster.yaml: %w", err)
	}
	if old.Cluster != spec.Cluster {
		return nil, fieldErr("cluster", "%q, but the kit is for cluster %q", spec.Cluster, old.Cluster)
	}
	if old.Primary.Name != spec.Primary.Name {
		return nil, fieldErr("primary.name", "%q, but the kit's primary is %q; a kit cannot change the primary", spec.Primary.Name, old.Primary.Name)
	}
	if want := sshAlgo(facts.SSH.KeyType, facts.SSH.KeyBits); st.SSHKeyType != want {
		return nil, fmt.Errorf("profile %s wants %s SSH keys, the kit has %s; make a new kit", facts.Name, want, st.SSHKeyType)
	}

	p := &previousKit{state: *st, nodes: map[string]*prevNode{}}
	crt, err := read("ca/ca.crt")
	if err != nil {
		return nil, err
	}
	key, err := read("ca/ca.key")
	if err != nil {
		return nil, err
	}
	if p.ca, err = parseCertKey(crt, key); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	if p.ca.fingerprint() != st.CA.SHA256 {
		return nil, errors.New("ca/ca.crt does not match kit.yaml")
	}

	for _, ns := range st.Nodes {
		n, doc, err := loadNode(dir, ns, facts)
		if err != nil {
			return nil, fmt.Errorf("nodes/%s: %w", ns.Name, err)
		}
		p.nodes[ns.Name] = n
		if doc.Role == metadata.RolePrimary {
			p.password = doc.ServerconfPassword
			if p.hostKey, err = parseSSHKey([]byte(doc.SSH.HostKey), facts.SSH.KeyType, facts.SSH.KeyBits); err != nil {
				return nil, fmt.Errorf("nodes/%s: ssh host key: %w", ns.Name, err)
			}
		}
	}
	if p.hostKey == nil || p.password == "" {
		return nil, errors.New("the kit has no primary document")
	}
	return p, nil
}

// loadNode reads a node's material back from its user-data.
func loadNode(dir string, ns nodeState, facts *profiles.Facts) (*prevNode, *metadata.Document, error) {
	ud, err := os.ReadFile(filepath.Join(dir, "nodes", ns.Name, "user-data"))
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
	if doc.Role == metadata.RoleSecondary {
		if n.userKey, err = parseSSHKey([]byte(doc.SSH.PrivateKey), facts.SSH.KeyType, facts.SSH.KeyBits); err != nil {
			return nil, nil, fmt.Errorf("ssh key: %w", err)
		}
	}
	return n, doc, nil
}

// roleDocument extracts and parses the role document from a kit's user-data.
func roleDocument(userData []byte) (*metadata.Document, error) {
	var cc cloudConfig
	if err := yaml.Unmarshal(userData, &cc); err != nil {
		return nil, fmt.Errorf("user-data: %w", err)
	}
	for _, f := range cc.WriteFiles {
		if f.Path == metadata.RoleFile {
			doc, err := metadata.Parse([]byte(f.Content))
			if err != nil {
				return nil, fmt.Errorf("user-data: %s: %w", metadata.RoleFile, err)
			}
			return doc, nil
		}
	}
	return nil, fmt.Errorf("user-data: no write_files entry for %s", metadata.RoleFile)
}
