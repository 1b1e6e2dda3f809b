package kit

import (
	"bytes"
	"fmt"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/metadata"
)

// material is every secret of the cluster, new or carried over from a previous kit.
// Every security server has its own SSH host key and xroad user key, whatever
// its role: a secondary may be promoted and the primary may rejoin as a
// secondary, and the other nodes must already know the keys they will then
// meet. Central-server nodes get no SSH keys.
type material struct {
	ca        *certKey
	passwords passwords
	// admin is the X-Road admin user; adminPassword its password when this
	// run drew it, else "".
	admin         *metadata.AdminUser
	adminPassword string
	hostKeys      map[string]*sshKey  // every security server's SSH host key
	userKeys      map[string]*sshKey  // every security server's xroad user key
	certs         map[string]*certKey // every node's PostgreSQL certificate
	// join is the token of a spec with a join section, new on every run.
	join *joinToken
}

// makeMaterial generates what is missing; with prev it keeps what still fits.
func makeMaterial(spec *Spec, facts *profiles.Facts, prev *previousKit, now time.Time) (*material, error) {
	m := &material{hostKeys: map[string]*sshKey{}, userKeys: map[string]*sshKey{}, certs: map[string]*certKey{}}
	if err := m.clusterSecrets(spec, prev, now); err != nil {
		return nil, err
	}
	for _, n := range spec.nodes() {
		if err := m.nodeMaterial(spec, n, facts, prev, now); err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
	}
	return m, nil
}

// clusterSecrets are the CA and the passwords, shared by every node.
func (m *material) clusterSecrets(spec *Spec, prev *previousKit, now time.Time) error {
	var err error
	var prevAdmin *metadata.AdminUser
	if prev != nil {
		prevAdmin = prev.admin
	}
	if m.admin, m.adminPassword, err = adminUser(spec.AdminUser, prevAdmin); err != nil {
		return err
	}
	if m.join, err = newJoinToken(spec.Join, now); err != nil {
		return err
	}
	if prev != nil {
		m.ca, m.passwords = prev.ca, prev.passwords
		return nil
	}
	if m.ca, err = newCA(spec.Cluster, now); err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	m.passwords, err = newPasswords(spec.isCentralServer())
	return err
}

// nodeMaterial keeps a node's certificate and keys from prev when they fit
// and generates the rest.
func (m *material) nodeMaterial(spec *Spec, n Node, facts *profiles.Facts, prev *previousKit, now time.Time) error {
	var err error
	if c := prev.cert(n.Name); c != nil && reusableNodeCert(m.ca, c, n, now) {
		m.certs[n.Name] = c
	} else if m.certs[n.Name], err = issueNodeCert(m.ca, spec.Cluster, n, now); err != nil {
		return fmt.Errorf("postgresql certificate: %w", err)
	}
	if spec.isCentralServer() {
		return nil
	}
	if m.hostKeys[n.Name], err = keptOrNewSSHKey(prev.hostKey(n.Name), facts, "root@"+n.Name); err != nil {
		return fmt.Errorf("ssh host key: %w", err)
	}
	if m.userKeys[n.Name], err = keptOrNewSSHKey(prev.userKey(n.Name), facts, "xroad@"+n.Name); err != nil {
		return fmt.Errorf("ssh key: %w", err)
	}
	return nil
}

// keptOrNewSSHKey returns the previous kit's key, or a new one of the
// profile's type when the previous kit had none (a new node, or a kit made
// before every node had both keys).
func keptOrNewSSHKey(kept *sshKey, facts *profiles.Facts, comment string) (*sshKey, error) {
	if kept != nil {
		return kept, nil
	}
	return newSSHKey(facts.SSH.KeyType, facts.SSH.KeyBits, comment)
}

// kitPlan is one kit, complete in memory before anything is written.
type kitPlan struct {
	spec     *Spec
	facts    *profiles.Facts
	material *material
	nodes    []*nodePlan
	// joinUserData is join/user-data, or nil without a join section.
	joinUserData []byte
	generation   int
	created      time.Time
}

// nodePlan is one node's rendered seed.
type nodePlan struct {
	node       Node
	role       metadata.Role
	doc        *metadata.Document
	userData   []byte
	generation int
	instanceID string
	changed    bool
}

// planNodes builds and validates every node's role document and renders its user-data.
func planNodes(spec *Spec, m *material) ([]*nodePlan, error) {
	var plans []*nodePlan
	if spec.isCentralServer() {
		plans = m.centralServerPlans(spec.Cluster, spec.CentralServer)
	} else {
		plans = m.securityServerPlans(spec)
	}
	for _, pl := range plans {
		if err := pl.render(); err != nil {
			return nil, fmt.Errorf("%s: %w", pl.node.Name, err)
		}
	}
	return plans, nil
}

// securityServerPlans are the primary's and the secondaries' documents. A
// secondary's is what the primary grants a joining node (Document.Grant),
// with the private keys the kit made for it.
func (m *material) securityServerPlans(spec *Spec) []*nodePlan {
	primary := m.primaryDocument(spec)
	plans := []*nodePlan{{node: spec.Primary, role: metadata.RolePrimary, doc: primary}}
	for i, s := range spec.Secondaries {
		doc := primary.Grant(primary.Secondaries[i], string(m.certs[s.Name].CertPEM))
		doc.TLS.Key = string(m.certs[s.Name].KeyPEM)
		doc.SSH.HostKey, doc.SSH.PrivateKey = string(m.hostKeys[s.Name].Private), string(m.userKeys[s.Name].Private)
		plans = append(plans, &nodePlan{node: s, role: metadata.RoleSecondary, doc: doc})
	}
	return plans
}

// primaryDocument is the primary's role document: its own keys, every
// secondary with its public keys, and the join section when the spec has one.
func (m *material) primaryDocument(spec *Spec) *metadata.Document {
	p := spec.Primary
	host, user := m.hostKeys[p.Name], m.userKeys[p.Name]
	return &metadata.Document{
		Version:            metadata.Version,
		Cluster:            spec.Cluster,
		Role:               metadata.RolePrimary,
		Node:               p.Name,
		Primary:            m.primary(p),
		Secondaries:        m.members(spec.Secondaries),
		ServerconfPassword: m.passwords.serverconf,
		TLS:                m.tls(p.Name),
		SSH:                metadata.SSH{HostKey: string(host.Private), PrivateKey: string(user.Private), PublicKey: user.Public},
		Options:            spec.Options,
		PublicName:         spec.PublicName,
		AdminUser:          m.admin,
		Join:               m.joinSection(spec),
	}
}

// tls is node name's certificate material as its document carries it.
func (m *material) tls(name string) metadata.TLS {
	c := m.certs[name]
	return metadata.TLS{CA: string(m.ca.CertPEM), Cert: string(c.CertPEM), Key: string(c.KeyPEM)}
}

// primary is the primary as every document names it.
func (m *material) primary(p Node) metadata.Primary {
	return metadata.Primary{
		Name:         p.Name,
		Address:      p.Address,
		HostKey:      m.hostKeys[p.Name].Public,
		SSHPublicKey: m.userKeys[p.Name].Public,
	}
}

// members lists the secondaries as every document names them; each call
// returns a new slice, so no two documents share one.
func (m *material) members(secondaries []Node) []metadata.Member {
	list := make([]metadata.Member, 0, len(secondaries))
	for _, s := range secondaries {
		list = append(list, metadata.Member{
			Name:         s.Name,
			Address:      s.Address,
			SSHPublicKey: m.userKeys[s.Name].Public,
			HostKey:      m.hostKeys[s.Name].Public,
		})
	}
	return list
}

// render validates the node's document and wraps it in user-data.
func (pl *nodePlan) render() error {
	// Validate with the provisioner's own rules: a kit the node would refuse is a kit bug.
	if err := pl.doc.Validate(); err != nil {
		return fmt.Errorf("role document: %w", err)
	}
	doc, err := pl.doc.Marshal()
	if err != nil {
		return fmt.Errorf("role document: %w", err)
	}
	if pl.userData, err = metadata.ToUserData(doc); err != nil {
		return fmt.Errorf("user-data: %w", err)
	}
	return nil
}

// assignGenerations keeps a node's generation, and so its instance-id, when
// its user-data is byte for byte what the previous kit had.
func (k *kitPlan) assignGenerations(prev *previousKit) {
	fp := k.material.ca.fingerprint()
	for _, n := range k.nodes {
		n.generation, n.changed = k.generation, true
		if old, ok := prev.node(n.node.Name); ok && bytes.Equal(old.userData, n.userData) {
			n.generation, n.changed = old.generation, false
		}
		n.instanceID = instanceID(fp, k.spec.Cluster, n.node.Name, n.generation)
	}
}
