package metadata

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// peerDocs are ss1 (primary) and ss2, ss3 (secondaries) as a current kit
// writes them: every node with its own host and user key, every secondary
// with the whole list.
func peerDocs(t *testing.T) (primary, ss2, ss3 *Document) {
	m := material(t)
	hostKey := func() sshPair { _, k := must2(ed25519.GenerateKey(rand.Reader)); return sshKeyPair(k) }
	ss1User, ss2Host, ss3Host := hostKey(), hostKey(), hostKey()
	list := []Member{
		{Name: "ss2", Address: "10.20.0.12", SSHPublicKey: m.userKeys["ss2"].pub, HostKey: ss2Host.pub},
		{Name: "ss3", Address: "10.20.0.13", SSHPublicKey: m.userKeys["ss3"].pub, HostKey: ss3Host.pub},
	}
	primary = primaryDoc(t)
	primary.Primary.SSHPublicKey = ss1User.pub
	primary.SSH.PrivateKey, primary.SSH.PublicKey = ss1User.priv, ss1User.pub
	primary.Secondaries = list

	ss2 = secondaryDoc(t)
	ss2.Primary = primary.Primary
	ss2.Secondaries = list
	ss2.SSH.HostKey = ss2Host.priv

	ss3 = secondaryDoc(t)
	ss3.Node, ss3.Primary, ss3.Secondaries = "ss3", primary.Primary, list
	ss3.TLS.Cert, ss3.TLS.Key = m.tls["ss3"].cert, m.tls["ss3"].key
	ss3.SSH = SSH{HostKey: ss3Host.priv, PrivateKey: m.userKeys["ss3"].priv, PublicKey: m.userKeys["ss3"].pub}
	for _, d := range []*Document{primary, ss2, ss3} {
		if err := d.Validate(); err != nil {
			t.Fatalf("%s: %v", d.Node, err)
		}
	}
	return primary, ss2, ss3
}

func TestPromotedAndRepointedAgree(t *testing.T) {
	old, ss2, ss3 := peerDocs(t)

	p, err := ss2.Promoted()
	if err != nil {
		t.Fatal(err)
	}
	if p.Role != RolePrimary || p.Primary.Name != "ss2" || p.Primary.Address != "10.20.0.12" || p.Primary.HostKey != ss2.Secondaries[0].HostKey {
		t.Errorf("promoted primary = %+v", p.Primary)
	}
	var names []string
	for _, m := range p.Secondaries {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); got != "ss3,ss1" {
		t.Errorf("promoted node's secondaries = %s, want ss3,ss1 (the old primary rejoins with its user key)", got)
	}
	if p.Secondaries[1].SSHPublicKey != old.SSH.PublicKey || p.Secondaries[1].HostKey != old.Primary.HostKey {
		t.Error("the old primary's entry lacks its user key or host key")
	}
	if p.OwnHostKey() != ss2.OwnHostKey() || p.OwnHostKey() == "" {
		t.Error("promotion changed the node's own host key")
	}

	r, err := ss3.Repointed("10.20.0.12")
	if err != nil {
		t.Fatal(err)
	}
	if r.Role != RoleSecondary || r.Primary != p.Primary {
		t.Errorf("repointed primary = %+v, want the promoted node's %+v", r.Primary, p.Primary)
	}
	if byName, err := ss3.Repointed("ss2"); err != nil || byName.Primary != r.Primary {
		t.Errorf("repoint by name: %v", err)
	}
	if len(r.Secondaries) != len(p.Secondaries) {
		t.Errorf("repointed list %v differs from the promoted node's %v", r.Secondaries, p.Secondaries)
	}
}

func TestPromoteAndRepointRefusals(t *testing.T) {
	primary, ss2, ss3 := peerDocs(t)
	bare := secondaryDoc(t) // an old kit's document: no list, no host key
	cases := []struct {
		name string
		fn   func() (*Document, error)
		want string
	}{
		{"promote the primary", primary.Promoted, "only a secondary"},
		{"promote without peer list", bare.Promoted, "peer list"},
		{"repoint the primary", func() (*Document, error) { return primary.Repointed("ss2") }, "only a secondary"},
		{"repoint to itself", func() (*Document, error) { return ss3.Repointed("10.20.0.13") }, "is this node"},
		{"repoint to a stranger", func() (*Document, error) { return ss2.Repointed("10.99.0.1") }, "not a secondary"},
		{"repoint without peer list", func() (*Document, error) { return bare.Repointed("ss3") }, "not a secondary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.fn(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestTopologyRoundTrip(t *testing.T) {
	_, ss2, _ := peerDocs(t)
	file := filepath.Join(t.TempDir(), "topology.yaml")
	if topo, err := LoadTopology(file); topo != nil || err != nil {
		t.Fatalf("no file: %v, %v", topo, err)
	}
	p, err := ss2.Promoted()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Topology("promote", time.Now()).Save(file); err != nil {
		t.Fatal(err)
	}
	topo, err := LoadTopology(file)
	if err != nil {
		t.Fatal(err)
	}
	got := ss2.WithTopology(topo)
	if got.Role != RolePrimary || got.Primary != p.Primary || len(got.Secondaries) != len(p.Secondaries) || got.SSH != ss2.SSH {
		t.Errorf("overlaid document = %+v", got.Redacted())
	}
	if ss2.Role != RoleSecondary {
		t.Error("WithTopology changed the frozen document")
	}
	data, _ := os.ReadFile(file)
	for _, s := range material(t).secrets() {
		if strings.Contains(string(data), s) {
			t.Fatal("the topology file holds a secret")
		}
	}
	if err := os.WriteFile(file, []byte("role: leader\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTopology(file); err == nil || !strings.Contains(err.Error(), "role") {
		t.Errorf("bad role: %v", err)
	}
}

// TestReseeded: a node takes only added secondaries from its renewed seed;
// another node's, cluster's or place's seed, or one that drops or changes a
// secondary, is refused naming the field.
func TestReseeded(t *testing.T) {
	primary, ss2, _ := peerDocs(t)
	ss4 := Member{Name: "ss4", Address: "10.20.0.14", SSHPublicKey: material(t).spare.pub}
	grown := func(d *Document) *Document {
		c := *d
		c.Secondaries = append(append([]Member(nil), d.Secondaries...), ss4)
		return &c
	}
	for _, d := range []*Document{primary, ss2} {
		next, added, err := d.Reseeded(grown(d))
		if err != nil {
			t.Fatalf("%s: %v", d.Node, err)
		}
		if len(added) != 1 || added[0] != ss4 || len(next.Secondaries) != 3 || next.Secondaries[2] != ss4 || len(d.Secondaries) != 2 {
			t.Errorf("%s: added %v, next lists %d, d lists %d", d.Node, added, len(next.Secondaries), len(d.Secondaries))
		}
		if _, added, err := d.Reseeded(d); err != nil || len(added) != 0 {
			t.Errorf("%s reseeded with its own document: added %v, %v", d.Node, added, err)
		}
	}
	for _, c := range []struct {
		name, field string
		edit        func(*Document)
	}{
		{"another cluster", "key cluster", func(d *Document) { d.Cluster = "other" }},
		{"another node", "key node", func(d *Document) { d.Node = "ss3" }},
		{"another role", "key role", func(d *Document) { d.Role = RoleSecondary }},
		{"another primary", "key primary", func(d *Document) { d.Primary.Address = "10.20.0.99" }},
		{"another primary host key", "key primary.hostKey", func(d *Document) { d.Primary.HostKey = ss2.Secondaries[0].HostKey }},
		{"another CA", "key tls.ca", func(d *Document) { d.TLS.CA = "other" }},
		{"a secondary dropped", "ss3 is missing", func(d *Document) { d.Secondaries = d.Secondaries[:1] }},
		{"a secondary's key changed", "ss2 differs", func(d *Document) { d.Secondaries[0].SSHPublicKey = ss4.SSHPublicKey }},
	} {
		seed := grown(primary)
		seed.Secondaries = append([]Member(nil), seed.Secondaries...)
		c.edit(seed)
		if _, _, err := primary.Reseeded(seed); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.field)
		}
	}
}
