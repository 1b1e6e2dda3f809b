package kit

import (
	"fmt"
	"time"

	"xroad-appliance/provisioner/jointoken"
	"xroad-appliance/provisioner/metadata"
)

// JoinSpec is a security-server spec's join section: secondaries may join
// the cluster by token instead of (or besides) being listed. The kit mints
// one token, gives the primary the join service and writes join/user-data,
// the one seed every joining secondary boots with.
type JoinSpec struct {
	// Port is the primary's join service port.
	Port int `yaml:"port"`
	// TTL is how long the kit's token is valid, a Go duration ("24h", "90m").
	TTL string `yaml:"ttl"`
	// Uses is how many secondaries the token admits; 0 or absent: any
	// number until it expires.
	Uses int `yaml:"uses,omitempty"`
}

// DefaultJoin is the join section a spec's join key starts from.
func DefaultJoin() *JoinSpec {
	return &JoinSpec{Port: metadata.DefaultJoinPort, TTL: "24h"}
}

// joinUserDataName is the joining secondaries' user-data in the kit.
const joinUserDataName = "join/user-data"

func (j *JoinSpec) validate(healthCheckPort int) error {
	if j == nil {
		return nil
	}
	if msg := metadata.PortProblem(j.Port); msg != "" {
		return fieldErr("join.port", "%s", msg)
	}
	if j.Port == healthCheckPort {
		return fieldErr("join.port", "%d is options.healthCheckPort; the join service needs a port of its own", j.Port)
	}
	if _, ok := j.ttl(); !ok {
		return fieldErr("join.ttl", "must be a positive duration such as 24h or 90m")
	}
	if j.Uses < 0 {
		return fieldErr("join.uses", "must be 0 (any number until the token expires) or more")
	}
	return nil
}

// ttl is TTL read, and whether it is a positive duration.
func (j *JoinSpec) ttl() (time.Duration, bool) {
	d, err := time.ParseDuration(j.TTL)
	return d, err == nil && d > 0
}

// joinToken is the token a kit run mints: every run makes a new one, which
// only the primary's document and join/user-data carry.
type joinToken struct {
	token   jointoken.Token
	expires time.Time
}

// newJoinToken mints the token of a spec with a join section, valid for
// its TTL from now; nil without one.
func newJoinToken(j *JoinSpec, now time.Time) (*joinToken, error) {
	if j == nil {
		return nil, nil
	}
	tok, err := jointoken.New()
	if err != nil {
		return nil, fmt.Errorf("join token: %w", err)
	}
	ttl, _ := j.ttl() // the spec is validated
	return &joinToken{token: tok, expires: now.Add(ttl).UTC().Truncate(time.Second)}, nil
}

// joinSection is the primary's join section: the kit's token and the CA
// key that signs the certificates of the secondaries that join.
func (m *material) joinSection(spec *Spec) *metadata.Join {
	if m.join == nil {
		return nil
	}
	return &metadata.Join{
		Port:   spec.Join.Port,
		CAKey:  string(m.ca.KeyPEM),
		Tokens: []metadata.JoinToken{{Token: m.join.token.Value(), Expires: m.join.expires, Uses: spec.Join.Uses}},
	}
}

// joinUserData is join/user-data: the join document in the write_files
// entry a role document travels in. Its token is its only secret.
func (m *material) joinUserData(spec *Spec) ([]byte, error) {
	if m.join == nil {
		return nil, nil
	}
	jd := &metadata.JoinDocument{
		Version: metadata.Version,
		Cluster: spec.Cluster,
		Role:    metadata.RoleSecondary,
		Join: metadata.JoinTarget{
			Primary: spec.Primary.Address,
			Port:    spec.Join.Port,
			Token:   m.join.token.Value(),
			CAPin:   jointoken.Pin(m.ca.Cert),
		},
	}
	// A join document the node would refuse is a kit bug.
	if err := jd.Validate(); err != nil {
		return nil, fmt.Errorf("join document: %w", err)
	}
	doc, err := jd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("join document: %w", err)
	}
	return metadata.ToUserData(doc)
}

// JoinResult is what a kit with a join section tells the operator: where
// the joining secondaries' user-data is and which token it carries, by ID
// (the secret stays in the files).
type JoinResult struct {
	UserData string
	TokenID  string
	Expires  time.Time
}
