package metadata

import (
	"errors"
	"fmt"
	"time"

	"xroad-appliance/provisioner/jointoken"
	"xroad-appliance/provisioner/pemblock"
)

// DefaultJoinPort is the join service's port when a document leaves it out.
const DefaultJoinPort = 5590

// Join is the primary's join section: what its join service needs to admit
// a secondary that presents a token. CAKey and the tokens are secrets.
type Join struct {
	// Port is the join service's TCP port.
	Port int `yaml:"port"`
	// CAKey is the private key of tls.ca (PEM), which signs the certificate
	// of every secondary that joins.
	CAKey string `yaml:"caKey"`
	// Tokens are the tokens the service accepts. The list may be empty:
	// tokens can be added on the running primary.
	Tokens []JoinToken `yaml:"tokens,omitempty"`
}

// JoinToken is one token the join service accepts until Expires, Uses
// times at most (0: any number).
type JoinToken struct {
	Token   string    `yaml:"token"` // secret, "ID.SECRET"
	Expires time.Time `yaml:"expires"`
	Uses    int       `yaml:"uses,omitempty"`
}

// ParseToken is the token as jointoken reads it; in a validated document
// it always parses.
func (t JoinToken) ParseToken() (jointoken.Token, error) { return jointoken.Parse(t.Token) }

// JoinDocument is the seed of a secondary that joins its cluster by token:
// where the primary's join service is, the token and the pin of the CA the
// service must prove it holds. One join document serves every joining
// secondary, so it names no node: each takes its name from its cloud's
// meta-data (InstanceName). The token is its only secret.
type JoinDocument struct {
	Version string     `yaml:"version"`
	Cluster string     `yaml:"cluster"`
	Role    Role       `yaml:"role"`
	Join    JoinTarget `yaml:"join"`
}

// JoinTarget is a join document's join section.
type JoinTarget struct {
	// Primary is the primary's address (a host name or an IP address).
	Primary string `yaml:"primary"`
	Port    int    `yaml:"port"`
	Token   string `yaml:"token"` // secret, "ID.SECRET"
	// CAPin is the cluster CA's pin (jointoken.Pin).
	CAPin string `yaml:"caPin"`
}

// ParseToken is the token as jointoken reads it; in a validated document
// it always parses.
func (t JoinTarget) ParseToken() (jointoken.Token, error) { return jointoken.Parse(t.Token) }

// ErrJoinDocument is what Parse and Load say of a join document, which
// only a joining node reads (ParseSeed, LoadSeed).
var ErrJoinDocument = errors.New("a join document (a secondary that joins its primary by token), not a role document")

// Validate checks the join document and returns a *ValidationError listing
// every problem, each naming its field. It never quotes the token.
func (j *JoinDocument) Validate() error {
	c := &checker{}
	c.version(j.Version)
	c.name("cluster", j.Cluster, false)
	switch j.Role {
	case RoleSecondary:
	case "":
		c.fail("role", "required (secondary)")
	default:
		c.fail("role", "must be secondary: only a secondary joins by token")
	}
	c.address("join.primary", j.Join.Primary, true)
	c.port("join.port", j.Join.Port)
	c.token("join.token", j.Join.Token)
	switch {
	case j.Join.CAPin == "":
		c.fail("join.caPin", "required")
	case jointoken.CheckPin(j.Join.CAPin) != "":
		c.fail("join.caPin", "%s", jointoken.CheckPin(j.Join.CAPin))
	}
	return c.result()
}

// token checks a join token and returns it, or false when it is absent or
// malformed. The message is jointoken's, which never quotes the value.
func (c *checker) token(field, v string) (jointoken.Token, bool) {
	if v == "" {
		c.fail(field, "required")
		return jointoken.Token{}, false
	}
	t, err := jointoken.Parse(v)
	if err != nil {
		c.fail(field, "%v", err)
		return jointoken.Token{}, false
	}
	return t, true
}

// join checks the primary's join section: its port apart from the health
// check, the CA key matching tls.ca, and tokens with distinct IDs.
func (c *checker) join(d *Document) {
	j := d.Join
	if j == nil {
		return
	}
	if d.Role != RolePrimary {
		c.fail("join", "only on the primary")
		return
	}
	c.port("join.port", j.Port)
	if j.Port == d.Options.HealthCheckPort {
		c.fail("join.port", "must differ from options.healthCheckPort")
	}
	if key := c.privateKey("join.caKey", j.CAKey); key != nil {
		if ca := c.certificateQuiet(d.TLS.CA); ca != nil && !pemblock.SamePublicKey(ca.PublicKey, key.Public()) {
			c.fail("join.caKey", "is not the private key of tls.ca")
		}
	}
	ids := map[string]int{}
	for i, t := range j.Tokens {
		p := fmt.Sprintf("join.tokens[%d]", i)
		if tok, ok := c.token(p+".token", t.Token); ok {
			if k, dup := ids[tok.ID]; dup {
				c.fail(p+".token", "has the ID of join.tokens[%d].token", k)
			} else {
				ids[tok.ID] = i
			}
		}
		if t.Expires.IsZero() {
			c.fail(p+".expires", "required (RFC 3339, as 2026-12-06T08:00:00Z)")
		}
		if t.Uses < 0 {
			c.fail(p+".uses", "must be 0 (any number until it expires) or more")
		}
	}
}

// Marshal encodes the join document as YAML, the token included.
func (j *JoinDocument) Marshal() ([]byte, error) { return encode(j) }

// JoinPort is the port of the primary's join service: its document's, or
// the default where the document has no join section (a promoted
// secondary, given the CA key later).
func (d *Document) JoinPort() int {
	if d.Join != nil && d.Join.Port != 0 {
		return d.Join.Port
	}
	return DefaultJoinPort
}
