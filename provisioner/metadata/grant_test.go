package metadata

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
)

// joiner is the material a joining node ss4 makes itself.
type joiner struct {
	member  Member
	certPEM string
	tlsKey  string
	user    sshPair
	host    sshPair
}

func newJoiner(t *testing.T, name string) joiner {
	t.Helper()
	m := material(t)
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	_, hk := must2(ed25519.GenerateKey(rand.Reader))
	j := joiner{
		certPEM: issue(m.caCert, m.caKey, key.Public(), certOpts{cn: name}),
		tlsKey:  pkcs8PEM(key),
		user:    sshKeyPair(must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))),
		host:    sshKeyPair(hk),
	}
	j.member = Member{Name: name, Address: "10.20.0.14", SSHPublicKey: j.user.pub, HostKey: j.host.pub}
	return j
}

func (j joiner) secrets() []string { return []string{j.tlsKey, j.user.priv, j.host.priv} }

func TestGrantAndComplete(t *testing.T) {
	primary := joinPrimaryDoc(t)
	primary.Secondaries = primaryDoc(t).Secondaries
	primary.PublicName = "ss.example.org"
	primary.AdminUser = &AdminUser{Name: "xroad-admin", PasswordHash: "$6$saltsalt$" + strings.Repeat("h", 86)}
	ss4 := newJoiner(t, "ss4")

	g := primary.Grant(ss4.member, ss4.certPEM)
	granted, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Nothing of the primary's but the shared password, and nothing private
	// (a private key file embeds its public half, which is listed).
	public := strings.NewReplacer(testPassword, "", ss4.user.pub, "", ss4.host.pub, "")
	assertNoSecrets(t, public.Replace(string(granted)), append(material(t).secrets(), ss4.secrets()...)...)
	for _, absent := range []string{"PRIVATE KEY", "join:", "caKey", "tokens:"} {
		if strings.Contains(string(granted), absent) {
			t.Errorf("granted document holds %q", absent)
		}
	}
	if g.AdminUser == primary.AdminUser {
		t.Error("the grant shares the primary's admin user")
	}

	doc, err := CompleteGrant(granted, ss4.tlsKey, ss4.user.priv, ss4.host.priv)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Role != RoleSecondary || doc.Node != "ss4" || doc.Primary != primary.Primary || doc.Join != nil ||
		doc.ServerconfPassword != testPassword || doc.PublicName != "ss.example.org" || *doc.AdminUser != *primary.AdminUser ||
		doc.Options != primary.Options || doc.TLS.CA != primary.TLS.CA || doc.TLS.Cert != ss4.certPEM {
		t.Errorf("completed document: %+v", doc.Redacted())
	}
	var names []string
	for _, m := range doc.Secondaries {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "ss2,ss3,ss4" || doc.Secondaries[2] != ss4.member {
		t.Errorf("secondaries %v", names)
	}
	// The completed document is what Parse reads back.
	if _, err := Parse([]byte(marshal(t, doc))); err != nil {
		t.Fatal(err)
	}
	// The grant does not change the primary's document.
	if len(primary.Secondaries) != 2 || primary.Join == nil {
		t.Error("Grant changed the primary's document")
	}
}

// TestGrantAgain: a node that retries its join is granted the list as it
// stands, which already names it.
func TestGrantAgain(t *testing.T) {
	primary := joinPrimaryDoc(t)
	ss4 := newJoiner(t, "ss4")
	primary.Secondaries = []Member{ss4.member}
	g := primary.Grant(ss4.member, ss4.certPEM)
	if len(g.Secondaries) != 1 {
		t.Fatalf("secondaries %v", g.Secondaries)
	}
	if _, err := CompleteGrant([]byte(marshal(t, g)), ss4.tlsKey, ss4.user.priv, ss4.host.priv); err != nil {
		t.Fatal(err)
	}
}

// TestCompleteGrantFillsHostKey: the node's own entry gets its host key's
// public half when the primary listed none.
func TestCompleteGrantFillsHostKey(t *testing.T) {
	ss4 := newJoiner(t, "ss4")
	m := ss4.member
	m.HostKey = ""
	g := joinPrimaryDoc(t).Grant(m, ss4.certPEM)
	doc, err := CompleteGrant([]byte(marshal(t, g)), ss4.tlsKey, ss4.user.priv, ss4.host.priv)
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Secondaries[0].HostKey; got == "" || !strings.HasPrefix(ss4.host.pub, got) {
		t.Errorf("host key %q, want the public half of the node's", got)
	}
	if doc.OwnHostKey() == "" {
		t.Error("the node does not know its own host key")
	}
}

func TestCompleteGrantRejects(t *testing.T) {
	ss4 := newJoiner(t, "ss4")
	other := newJoiner(t, "ss4")
	granted := func(edit func(*Document)) []byte {
		g := joinPrimaryDoc(t).Grant(ss4.member, ss4.certPEM)
		if edit != nil {
			edit(g)
		}
		return []byte(marshal(t, g))
	}
	type keys struct{ tls, user, host string }
	mine := keys{ss4.tlsKey, ss4.user.priv, ss4.host.priv}
	for _, tc := range []struct {
		name    string
		granted []byte
		keys    keys
		want    string
	}{
		{"a primary's document", granted(func(d *Document) { d.Role = RolePrimary }), mine, "key role: must be secondary in a granted document"},
		{"with a join section", granted(func(d *Document) { d.Join = joinPrimaryDoc(t).Join }), mine, "key join: must be absent"},
		{"with a TLS key", granted(func(d *Document) { d.TLS.Key = ss4.tlsKey }), mine, "key tls.key: must be absent"},
		{"with a user key", granted(func(d *Document) { d.SSH.PrivateKey = ss4.user.priv }), mine, "key ssh.privateKey: must be absent"},
		{"with a host key", granted(func(d *Document) { d.SSH.HostKey = ss4.host.priv }), mine, "key ssh.hostKey: must be absent"},
		{"another node's TLS key", granted(nil), keys{other.tlsKey, ss4.user.priv, ss4.host.priv}, "key tls.key: is not the private key of tls.cert"},
		{"another user key", granted(nil), keys{ss4.tlsKey, other.user.priv, ss4.host.priv}, "key ssh.publicKey: does not match ssh.privateKey"},
		{"another host key", granted(nil), keys{ss4.tlsKey, ss4.user.priv, other.host.priv}, "hostKey: does not match the public half of ssh.hostKey"},
		{"no TLS key", granted(nil), keys{"", ss4.user.priv, ss4.host.priv}, "key tls.key: required"},
		{"a certificate for another name", granted(func(d *Document) { d.Node = "ss5" }), mine, "key tls.cert: subject CN must equal node"},
		{"strict", append(granted(nil), "grantee: x\n"...), mine, "unknown key at the top level"},
		{"two documents", append(granted(nil), "---\nrole: primary\n"...), mine, "second YAML document"},
		{"a join document", []byte(marshalJoin(t, joinDoc(t))), mine, "a join document"},
		{"empty", nil, mine, "empty document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := CompleteGrant(tc.granted, tc.keys.tls, tc.keys.user, tc.keys.host)
			if err == nil {
				t.Fatalf("accepted: %v", doc)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want %q, got %v", tc.want, err)
			}
			assertNoSecrets(t, err.Error(), append(material(t).secrets(), append(ss4.secrets(), other.secrets()...)...)...)
		})
	}
}
