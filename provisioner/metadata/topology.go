package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"xroad-appliance/provisioner/address"
	"xroad-appliance/provisioner/atomicfile"

	"gopkg.in/yaml.v3"
)

// Topology is where a node stands in the cluster after a day-2 promote,
// repoint, rejoin or reseed (kept by nodestate). The frozen document stays as
// provisioned (its phases are what the node was built by); the topology
// overlays its role, primary and secondaries for everything done since.
//
// It is the part of a document that promote, repoint and rejoin
// change: a security server's primary and secondaries, or a central-server
// database node's primary and standbys.
type Topology struct {
	Role        Role           `yaml:"role"`
	Primary     Primary        `yaml:"primary,omitempty"`
	Secondaries []Member       `yaml:"secondaries,omitempty"`
	Database    *DatabaseHosts `yaml:"database,omitempty"`
	Changed     time.Time      `yaml:"changed"`
	// By names the command that made the change ("promote", "repoint", "rejoin").
	By string `yaml:"by"`
}

// LoadTopology reads a topology file; nil without error when there is
// none: the node is where it was provisioned.
func LoadTopology(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t Topology
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case t.Role == RolePrimary || t.Role == RoleSecondary:
		if t.Database != nil {
			return nil, fmt.Errorf("%s: field database: not on role %s", path, t.Role)
		}
	case t.Role == RoleCSDBPrimary || t.Role == RoleCSDBStandby:
		if t.Database == nil || t.Database.Primary.Name == "" {
			return nil, fmt.Errorf("%s: field database: required on role %s", path, t.Role)
		}
	default:
		return nil, fmt.Errorf("%s: field role: must be primary, secondary, %s or %s", path, RoleCSDBPrimary, RoleCSDBStandby)
	}
	return &t, nil
}

// Save writes the topology to path atomically. It holds public keys only.
func (t *Topology) Save(path string) error {
	data, err := yaml.Marshal(t)
	if err != nil {
		return err
	}
	header := []byte("# Written by xroad-node " + t.By + "; overlays the frozen role document.\n")
	return atomicfile.Write(path, append(header, data...), 0o644)
}

// WithTopology returns a copy of d placed where t says; d itself is unchanged.
func (d *Document) WithTopology(t *Topology) *Document {
	c := *d
	switch {
	case t == nil:
	case t.Database != nil && d.CentralServer != nil:
		cs := *d.CentralServer
		cs.Database.Primary, cs.Database.Standbys = t.Database.Primary, append([]Host(nil), t.Database.Standbys...)
		c.Role, c.CentralServer = t.Role, &cs
	default:
		c.Role, c.Primary, c.Secondaries = t.Role, t.Primary, append([]Member(nil), t.Secondaries...)
		if c.Role != RolePrimary {
			c.Join = nil // only the primary admits secondaries
		}
	}
	return &c
}

// Topology is d's own place in the cluster, for saving after a change.
func (d *Document) Topology(by string, now time.Time) *Topology {
	t := &Topology{Role: d.Role, Changed: now.UTC(), By: by}
	if d.Role.IsCentralServer() {
		db := d.CentralServer.Database
		t.Database = &DatabaseHosts{Primary: db.Primary, Standbys: db.Standbys}
	} else {
		t.Primary, t.Secondaries = d.Primary, d.Secondaries
	}
	return t
}

// self is this node's entry in the secondaries list.
func (d *Document) self() (Member, bool) {
	for _, m := range d.Secondaries {
		if m.Name == d.Node {
			return m, true
		}
	}
	return Member{}, false
}

// OwnHostKey is the public half of the node's pre-generated SSH host key, or
// "" when its document carries none.
func (d *Document) OwnHostKey() string {
	if d.Role == RolePrimary {
		return d.Primary.HostKey
	}
	if m, ok := d.self(); ok && d.SSH.HostKey != "" {
		return m.HostKey
	}
	return ""
}

// asMember is the primary as one secondary among the others: how it stays in
// the list when another node takes its place. Without its user key it
// cannot sync from the new primary, so it is left out.
func (p Primary) asMember() (Member, bool) {
	return Member{Name: p.Name, Address: p.Address, SSHPublicKey: p.SSHPublicKey, HostKey: p.HostKey}, p.SSHPublicKey != ""
}

// Promoted is this secondary's document as the cluster's new primary: the
// other secondaries, and the old primary when it can rejoin, are its
// secondaries. It needs the kit's peer list and the node's own host key.
func (d *Document) Promoted() (*Document, error) {
	if d.Role != RoleSecondary {
		return nil, errors.New("only a secondary can be promoted")
	}
	me, ok := d.self()
	if !ok || d.SSH.HostKey == "" || me.HostKey == "" || me.Address == "" {
		return nil, errors.New("the role document lacks the peer list (secondaries with addresses and host keys) and this node's own host key; make the seeds with a current `xroad-image kit`")
	}
	p := d.following(Primary{Name: d.Node, Address: me.Address, HostKey: me.HostKey, SSHPublicKey: d.SSH.PublicKey})
	p.Role = RolePrimary
	if len(p.Secondaries) == 0 {
		return nil, errors.New("no other node could follow this one: the list has no other secondary and the old primary has no user key")
	}
	if err := p.validate(validateOpts{skipValidityPeriod: true}); err != nil {
		return nil, fmt.Errorf("the promoted document would be invalid: %w", err)
	}
	return p, nil
}

// following is d with next as the primary: next leaves the secondaries and
// the old primary joins them, when it can.
func (d *Document) following(next Primary) *Document {
	r := *d
	r.Primary = next
	r.Secondaries = nil
	for _, m := range d.Secondaries {
		if m.Name != next.Name {
			r.Secondaries = append(r.Secondaries, m)
		}
	}
	if old, ok := d.Primary.asMember(); ok {
		r.Secondaries = append(r.Secondaries, old)
	}
	return &r
}

// Repointed is this secondary's document following another primary, named
// by address or node name: a member of its list with a host key to pin.
// The old primary takes that member's place in the list.
func (d *Document) Repointed(primary string) (*Document, error) {
	if d.Role != RoleSecondary {
		return nil, errors.New("only a secondary follows a primary")
	}
	var next Member
	found := false
	for _, m := range d.Secondaries {
		if m.Address == primary || m.Name == primary {
			next, found = m, true
			break
		}
	}
	switch {
	case !found:
		return nil, fmt.Errorf("%s is not a secondary of cluster %s in this node's role document", primary, d.Cluster)
	case next.Name == d.Node:
		return nil, fmt.Errorf("%s is this node; use `xroad-node promote` to make it the primary", primary)
	case next.HostKey == "" || next.Address == "":
		return nil, fmt.Errorf("the role document has no address or host key for %s to pin", next.Name)
	}
	r := d.following(Primary{Name: next.Name, Address: next.Address, HostKey: next.HostKey, SSHPublicKey: next.SSHPublicKey})
	if err := r.validate(validateOpts{skipValidityPeriod: true}); err != nil {
		return nil, fmt.Errorf("the repointed document would be invalid: %w", err)
	}
	return r, nil
}

// Reseeded is d, the node's document as it stands, with the secondaries that
// seed adds: seed is this node's renewed user-data from `xroad-image kit
// --reuse` after secondaries were added to the spec. Only the secondaries
// list is taken from it, so a seed of another cluster, another node or
// another place in the cluster is refused, naming the field, as is one
// that drops or changes a secondary d lists. added is empty when seed
// lists no new secondary.
func (d *Document) Reseeded(seed *Document) (next *Document, added []Member, err error) {
	mismatch := func(field, format string, a ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...) + "; reseed takes only added secondaries from this node's own seed"}
	}
	switch {
	case seed.Role.IsCentralServer() || d.Role.IsCentralServer():
		return nil, nil, mismatch("role", "%s; reseed serves security-server nodes", seed.Role)
	case seed.Cluster != d.Cluster:
		return nil, nil, mismatch("cluster", "%q, this node's cluster is %q", seed.Cluster, d.Cluster)
	case seed.Node != d.Node:
		return nil, nil, mismatch("node", "%q, this node is %q", seed.Node, d.Node)
	case seed.Role != d.Role:
		return nil, nil, mismatch("role", "%s, this node is the cluster's %s now", seed.Role, d.Role)
	case seed.Primary.Name != d.Primary.Name || address.Key(seed.Primary.Address) != address.Key(d.Primary.Address):
		return nil, nil, mismatch("primary", "%s (%s), this node's primary is %s (%s)", seed.Primary.Name, seed.Primary.Address, d.Primary.Name, d.Primary.Address)
	case seed.Primary.HostKey != d.Primary.HostKey:
		return nil, nil, mismatch("primary.hostKey", "not the host key this node pins")
	case seed.TLS.CA != d.TLS.CA:
		return nil, nil, mismatch("tls.ca", "another cluster CA")
	}
	listed := map[string]Member{}
	for _, m := range seed.Secondaries {
		listed[m.Name] = m
	}
	for _, m := range d.Secondaries {
		s, ok := listed[m.Name]
		if !ok {
			return nil, nil, mismatch("secondaries", "%s is missing; removing a secondary is not a reseed", m.Name)
		}
		if s != m {
			return nil, nil, mismatch("secondaries", "%s differs from the node's entry (address or keys)", m.Name)
		}
		delete(listed, m.Name)
	}
	for _, m := range seed.Secondaries {
		if _, ok := listed[m.Name]; ok {
			added = append(added, m)
		}
	}
	c := *d
	c.Secondaries = append(append([]Member(nil), d.Secondaries...), added...)
	return &c, added, nil
}
