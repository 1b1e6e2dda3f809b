package kit

import (
	"bytes"
	"fmt"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/metadata"
)

// material is every secret of the cluster, new or carried over from a previous kit.
type material struct {
	ca       *certKey
	password string
	hostKey  *sshKey             // the primary's SSH host key
	userKeys map[string]*sshKey  // the secondaries' xroad user keys
	certs    map[string]*certKey // every node's PostgreSQL certificate
}

// makeMaterial generates what is missing; with prev it keeps what still fits.
func makeMaterial(spec *Spec, facts *profiles.Facts, prev *previousKit, now time.Time) (*material, error) {
	m := &material{userKeys: map[string]*sshKey{}, certs: map[string]*certKey{}}
	keyType, bits := facts.SSH.KeyType, facts.SSH.KeyBits
	var err error
	if prev != nil {
		m.ca, m.password, m.hostKey = prev.ca, prev.password, prev.hostKey
	} else {
		if m.ca, err = newCA(spec.Cluster, now); err != nil {
			return nil, fmt.Errorf("cluster CA: %w", err)
		}
		if m.password, err = newPassword(); err != nil {
			return nil, fmt.Errorf("serverconf password: %w", err)
		}
		if m.hostKey, err = newSSHKey(keyType, bits, "root@"+spec.Primary.Name); err != nil {
			return nil, fmt.Errorf("%s: ssh host key: %w", spec.Primary.Name, err)
		}
	}
	for _, n := range spec.nodes() {
		if c := prev.cert(n.Name); c != nil && reusableNodeCert(m.ca, c, n, now) {
			m.certs[n.Name] = c
		} else if m.certs[n.Name], err = issueNodeCert(m.ca, spec.Cluster, n, now); err != nil {
			return nil, fmt.Errorf("%s: postgresql certificate: %w", n.Name, err)
		}
	}
	for _, n := range spec.Secondaries {
		if k := prev.userKey(n.Name); k != nil {
			m.userKeys[n.Name] = k
		} else if m.userKeys[n.Name], err = newSSHKey(keyType, bits, "xroad@"+n.Name); err != nil {
			return nil, fmt.Errorf("%s: ssh key: %w", n.Name, err)
		}
	}
	return m, nil
}

// kitPlan is one kit, complete in memory before anything is written.
type kitPlan struct {
	spec       *Spec
	facts      *profiles.Facts
	material   *material
	nodes      []*nodePlan
	generation int
	created    time.Time
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
	primary := metadata.Primary{Name: spec.Primary.Name, Address: spec.Primary.Address, HostKey: m.hostKey.Public}
	base := func(n Node, role metadata.Role) *metadata.Document {
		c := m.certs[n.Name]
		return &metadata.Document{
			Version:            metadata.Version,
			Cluster:            spec.Cluster,
			Role:               role,
			Node:               n.Name,
			Primary:            primary,
			ServerconfPassword: m.password,
			TLS:                metadata.TLS{CA: string(m.ca.CertPEM), Cert: string(c.CertPEM), Key: string(c.KeyPEM)},
			Options:            spec.Options,
		}
	}

	p := base(spec.Primary, metadata.RolePrimary)
	p.SSH.HostKey = string(m.hostKey.Private)
	for _, s := range spec.Secondaries {
		p.Secondaries = append(p.Secondaries, metadata.Member{Name: s.Name, Address: s.Address, SSHPublicKey: m.userKeys[s.Name].Public})
	}
	plans := []*nodePlan{{node: spec.Primary, role: metadata.RolePrimary, doc: p}}
	for _, s := range spec.Secondaries {
		d := base(s, metadata.RoleSecondary)
		k := m.userKeys[s.Name]
		d.SSH.PrivateKey, d.SSH.PublicKey = string(k.Private), k.Public
		plans = append(plans, &nodePlan{node: s, role: metadata.RoleSecondary, doc: d})
	}

	for _, pl := range plans {
		// Validate with the provisioner's own rules: a kit the node would refuse is a kit bug.
		if err := pl.doc.Validate(); err != nil {
			return nil, fmt.Errorf("%s: role document: %w", pl.node.Name, err)
		}
		doc, err := pl.doc.Marshal()
		if err != nil {
			return nil, fmt.Errorf("%s: role document: %w", pl.node.Name, err)
		}
		if pl.userData, err = renderUserData(doc); err != nil {
			return nil, fmt.Errorf("%s: user-data: %w", pl.node.Name, err)
		}
	}
	return plans, nil
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
