package metadata

import (
	"strings"

	"golang.org/x/crypto/ssh"
)

// Grant is the role document the primary d hands a secondary m it admits:
// d's view of the cluster with m among the secondaries (kept as listed
// when m is already there, as on a retried join), m's certificate certPEM
// signed by the cluster CA, and of d's secrets only the serverconf
// password every node shares. It carries no private key and no join
// section; the joiner adds its own keys (CompleteGrant).
func (d *Document) Grant(m Member, certPEM string) *Document {
	g := &Document{
		Version:            d.Version,
		Cluster:            d.Cluster,
		Role:               RoleSecondary,
		Node:               m.Name,
		Primary:            Primary{Name: d.Primary.Name, Address: d.Primary.Address, HostKey: d.Primary.HostKey, SSHPublicKey: d.Primary.SSHPublicKey},
		Secondaries:        append([]Member(nil), d.Secondaries...),
		ServerconfPassword: d.ServerconfPassword,
		TLS:                TLS{CA: d.TLS.CA, Cert: certPEM},
		SSH:                SSH{PublicKey: m.SSHPublicKey},
		Options:            d.Options,
		PublicName:         d.PublicName,
	}
	if _, listed := g.self(); !listed {
		g.Secondaries = append(g.Secondaries, m)
	}
	if d.AdminUser != nil {
		a := *d.AdminUser
		g.AdminUser = &a
	}
	return g
}

// CompleteGrant is the joiner's side of Grant: the granted role document
// (YAML, decoded strictly) completed with the node's private keys: its TLS
// key, its xroad user key and its SSH host key, whose public half its own
// entry in secondaries gets when the primary did not list one. The result
// is validated as Parse validates. A granted document that is not a
// secondary's, or that carries a private key or a join section, is
// refused: the primary never sends them.
func CompleteGrant(granted []byte, tlsKey, sshPrivateKey, sshHostKey string) (*Document, error) {
	if isJoinSeed(granted) {
		return nil, ErrJoinDocument
	}
	doc, err := decodeDocument(granted)
	if err != nil {
		return nil, err
	}
	c := &checker{}
	if doc.Role != RoleSecondary {
		c.fail("role", "must be secondary in a granted document")
	}
	if doc.Join != nil {
		c.fail("join", "must be absent in a granted document")
	}
	for _, f := range []struct{ field, v string }{
		{"tls.key", doc.TLS.Key}, {"ssh.privateKey", doc.SSH.PrivateKey}, {"ssh.hostKey", doc.SSH.HostKey},
	} {
		if f.v != "" {
			c.fail(f.field, "must be absent in a granted document: the node's private keys never travel")
		}
	}
	if err := c.result(); err != nil {
		return nil, err
	}
	doc.TLS.Key, doc.SSH.PrivateKey, doc.SSH.HostKey = tlsKey, sshPrivateKey, sshHostKey
	if pub := c.publicHalf(sshHostKey); pub != "" {
		for i := range doc.Secondaries {
			if m := &doc.Secondaries[i]; m.Name == doc.Node && m.HostKey == "" {
				m.HostKey = pub
			}
		}
	}
	if err := doc.validate(validateOpts{}); err != nil {
		return nil, err
	}
	return doc, nil
}

// publicHalf is an SSH private key's public half in authorized_keys form,
// or "" when the key is unreadable (which validation then reports).
func (c *checker) publicHalf(private string) string {
	quiet := &checker{opts: c.opts}
	wire := quiet.privateSSHKey("", private)
	if wire == nil {
		return ""
	}
	pub, err := ssh.ParsePublicKey(wire)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}
