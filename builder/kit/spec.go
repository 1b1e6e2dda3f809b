// Package kit generates a cluster kit: the cluster CA, every node's PostgreSQL
// certificate, and per node the role document wrapped in a cloud-init NoCloud
// seed (user-data, meta-data and a cidata ISO). A security-server cluster also
// gets every node's SSH keys and the serverconf password; a central-server
// cluster gets its database, replication and admin passwords. It is what
// `xroad-image kit` runs.
package kit

import (
	"fmt"
	"net/netip"

	"gopkg.in/yaml.v3"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/address"
	"xroad-appliance/provisioner/inputfile"
	"xroad-appliance/provisioner/metadata"
)

// Spec is the cluster description an operator writes: a few names and
// addresses. It describes either a security-server cluster (Primary,
// Secondaries, Options) or a central-server cluster (CentralServer), never both.
type Spec struct {
	Cluster string `yaml:"cluster"`
	// Profile names the OS profile (profiles/NAME.yaml); optional when the
	// caller passes resolved facts.
	Profile string `yaml:"profile,omitempty"`
	// CentralServer describes a central-server cluster, in place of Primary,
	// Secondaries and Options.
	CentralServer *CentralServer `yaml:"centralServer,omitempty"`
	Primary       Node           `yaml:"primary,omitempty"`
	Secondaries   []Node         `yaml:"secondaries,omitempty"`
	// Options go into every security server's document. ParseSpec starts from
	// DefaultOptions; a Spec built in Go must set them itself.
	Options metadata.Options `yaml:"options,omitempty"`
	// PublicName is the security-server cluster's name for clients (the load
	// balancer's): the subject of the TLS certificates the primary makes.
	// Optional; the primary's name when absent.
	PublicName string `yaml:"publicName,omitempty"`
	// AdminUser is the X-Road admin user of every X-Road node; DefaultAdminUser
	// with a password the kit makes when absent.
	AdminUser *AdminUser `yaml:"adminUser,omitempty"`
	// Join lets secondaries join a security-server cluster by token.
	// ParseSpec starts it from DefaultJoin.
	Join *JoinSpec `yaml:"join,omitempty"`
}

// Node is one cluster member: its name (the PostgreSQL certificate CN, the
// replication user, the hostname) and the address other nodes reach it on.
type Node struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
}

// DefaultOptions are the options a spec gets when it leaves them out: the
// health check on metadata's default port, on every interface.
func DefaultOptions() metadata.Options {
	return metadata.Options{
		HealthCheckPort:      metadata.DefaultHealthCheckPort,
		HealthCheckInterface: metadata.DefaultHealthCheckInterface,
	}
}

// FieldError is a spec error that names the offending key: "key FIELD:
// PROBLEM" (Key is the field path); the caller names the file.
type FieldError = inputfile.KeyError

func fieldErr(field, format string, a ...any) error { return inputfile.KeyErrorf(field, format, a...) }

// ParseSpec decodes a cluster spec strictly (unknown keys are errors),
// applies the defaults and validates it.
func ParseSpec(data []byte) (*Spec, error) {
	s, err := decodeSpec(data)
	if err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeSpec decodes strictly and applies the defaults, without validating.
// Errors name the field path and the line, and never quote the spec: an
// unknown key may be a password typed at the wrong indentation.
func decodeSpec(data []byte) (*Spec, error) {
	doc, err := inputfile.ParseDocument("", data, Spec{})
	if err != nil {
		return nil, err
	}
	// Defaults go in before decoding, as in the metadata package: an absent
	// option takes the default, an explicit 0 stays 0 and is rejected. Which
	// defaults depends on the kind of cluster: a central-server spec gets no
	// security-server options, so that any it names are refused.
	s := Spec{Options: DefaultOptions()}
	if cs := doc.Value("centralServer"); cs != nil && cs.Kind == yaml.MappingNode {
		s = Spec{CentralServer: DefaultCentralServer()}
	}
	if j := doc.Value("join"); j != nil && j.Kind == yaml.MappingNode {
		s.Join = DefaultJoin()
	}
	if err := doc.Decode(&s); err != nil {
		return nil, err
	}
	if s.CentralServer != nil {
		s.CentralServer.nameHANodes()
	}
	return &s, nil
}

// checkName and checkAddress apply the role document's rules, so that a
// spec the kit accepts always yields documents the node accepts.
func checkName(field, v string, node bool) error {
	if msg := metadata.NameProblem(v, node); msg != "" {
		return fieldErr(field, "%s", msg)
	}
	return nil
}

func checkAddress(field, v string) error {
	if msg := metadata.AddressProblem(v); msg != "" {
		return fieldErr(field, "%s", msg)
	}
	return nil
}

// Validate checks names, addresses, uniqueness, the profile and the options.
func (s *Spec) Validate() error {
	if err := checkName("cluster", s.Cluster, false); err != nil {
		return err
	}
	if s.Profile != "" {
		if _, err := profiles.Load(s.Profile); err != nil {
			return fieldErr("profile", "%w", err)
		}
	}
	if err := s.AdminUser.validate(); err != nil {
		return err
	}
	if s.CentralServer != nil {
		if err := s.noSecurityServerFields(); err != nil {
			return err
		}
		return s.CentralServer.validate()
	}
	if s.Primary == (Node{}) && len(s.Secondaries) == 0 {
		return fieldErr("primary", "missing; a spec names a primary and secondaries (security servers) or a centralServer section")
	}
	seen := newNodeSet()
	if err := seen.add("primary", s.Primary); err != nil {
		return err
	}
	if len(s.Secondaries) == 0 && s.Join == nil {
		return fieldErr("secondaries", "missing; a cluster needs at least one secondary, or a join section to let them join")
	}
	if len(s.Secondaries) > metadata.MaxSecondaries {
		return fieldErr("secondaries", "%d listed; a cluster has at most %d secondaries", len(s.Secondaries), metadata.MaxSecondaries)
	}
	for i, n := range s.Secondaries {
		if err := seen.add(fmt.Sprintf("secondaries[%d]", i), n); err != nil {
			return err
		}
	}
	if s.PublicName != "" {
		if err := checkAddress("publicName", s.PublicName); err != nil {
			return err
		}
	}
	if err := s.validateOptions(); err != nil {
		return err
	}
	return s.Join.validate(s.Options.HealthCheckPort)
}

// noSecurityServerFields refuses a spec that mixes both kinds of cluster.
func (s *Spec) noSecurityServerFields() error {
	const why = "not allowed with centralServer: a spec describes either security servers or a central-server cluster"
	switch {
	case s.Primary != (Node{}):
		return fieldErr("primary", why)
	case len(s.Secondaries) > 0:
		return fieldErr("secondaries", why)
	case s.Options != (metadata.Options{}):
		return fieldErr("options", why)
	case s.PublicName != "":
		return fieldErr("publicName", why)
	case s.Join != nil:
		return fieldErr("join", why)
	}
	return nil
}

// nodeSet checks each node it is given and that no two share a name or an address.
type nodeSet struct {
	names map[string]string // name -> field that used it
	addrs map[string]string // address.Key -> field that used it
}

func newNodeSet() *nodeSet {
	return &nodeSet{names: map[string]string{}, addrs: map[string]string{}}
}

// add checks node n, found at field path at (e.g. "secondaries[1]").
func (ns *nodeSet) add(at string, n Node) error {
	if err := checkName(at+".name", n.Name, true); err != nil {
		return err
	}
	if err := checkAddress(at+".address", n.Address); err != nil {
		return err
	}
	if prev, dup := ns.names[n.Name]; dup {
		return fieldErr(at+".name", "%q is already used by %s", n.Name, prev)
	}
	ns.names[n.Name] = at + ".name"
	a := address.Key(n.Address)
	if prev, dup := ns.addrs[a]; dup {
		return fieldErr(at+".address", "%q is already used by %s", n.Address, prev)
	}
	ns.addrs[a] = at + ".address"
	return nil
}

func (s *Spec) validateOptions() error {
	// Ports taken by other services are left to the metadata package's check,
	// which Generate runs on every document before writing anything.
	o := s.Options
	if o.HealthCheckPort < 1 || o.HealthCheckPort > 65535 {
		return fieldErr("options.healthCheckPort", "%d is not a TCP port 1-65535 (appliances always run the health check)", o.HealthCheckPort)
	}
	if a, err := netip.ParseAddr(o.HealthCheckInterface); err != nil || a.Zone() != "" {
		return fieldErr("options.healthCheckInterface", "%q is not an IP address (0.0.0.0 for all)", o.HealthCheckInterface)
	}
	return nil
}

// isCentralServer tells a central-server spec from a security-server one.
func (s *Spec) isCentralServer() bool { return s.CentralServer != nil }

// kind names the spec's kind of cluster in messages.
func (s *Spec) kind() string {
	if s.isCentralServer() {
		return "central-server"
	}
	return "security-server"
}

// nodes lists every node in kit order: the primary first, then the
// secondaries in spec order; for a central server, see CentralServer.nodes.
func (s *Spec) nodes() []Node {
	if s.isCentralServer() {
		return s.CentralServer.nodes()
	}
	return append([]Node{s.Primary}, s.Secondaries...)
}

// Marshal renders the spec as YAML that ParseSpec reads back.
func (s *Spec) Marshal() ([]byte, error) {
	change := "add a secondary or change the primary"
	if s.isCentralServer() {
		change = "add a standby or a central server, or change the database primary"
	}
	return metadata.EncodeYAML(fmt.Sprintf("# Cluster spec of this kit. Edit and rerun `xroad-image kit --reuse` to %s.\n", change), s)
}
