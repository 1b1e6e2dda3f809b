// Package kit generates a cluster kit: the cluster CA, every node's PostgreSQL
// certificate and SSH keys, the serverconf password, and per node the role
// document wrapped in a cloud-init NoCloud seed (user-data, meta-data and a
// cidata ISO). It is what `xroad-image kit` runs.
package kit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"gopkg.in/yaml.v3"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/metadata"
)

// Spec is the cluster description an operator writes: a few names and addresses.
type Spec struct {
	Cluster string `yaml:"cluster"`
	// Profile names the OS profile (profiles/NAME.yaml); optional when the
	// caller passes resolved facts.
	Profile     string `yaml:"profile,omitempty"`
	Primary     Node   `yaml:"primary"`
	Secondaries []Node `yaml:"secondaries"`
	// Options go into every node's document. ParseSpec starts from
	// DefaultOptions; a Spec built in Go must set them itself.
	Options metadata.Options `yaml:"options"`
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

// FieldError is a spec error that names the offending key.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return "spec: " + e.Field + ": " + e.Msg }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// ParseSpec decodes a cluster spec strictly (unknown keys are errors) and validates it.
func ParseSpec(data []byte) (*Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// Defaults go in before decoding, as in the metadata package: an absent
	// option takes the default, an explicit 0 stays 0 and is rejected.
	s := Spec{Options: DefaultOptions()}
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("spec: empty document")
		}
		return nil, fmt.Errorf("spec: %w", err)
	}
	// A second document would be silently ignored otherwise.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("spec: more than one YAML document")
	}
	if err := s.Validate(); err != nil {
		return nil, err
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
			return fieldErr("profile", "%v", err)
		}
	}
	if err := checkName("primary.name", s.Primary.Name, true); err != nil {
		return err
	}
	if err := checkAddress("primary.address", s.Primary.Address); err != nil {
		return err
	}
	if len(s.Secondaries) == 0 {
		return fieldErr("secondaries", "missing; a cluster needs at least one secondary")
	}
	names := map[string]string{s.Primary.Name: "primary.name"}
	addrs := map[string]string{strings.ToLower(s.Primary.Address): "primary.address"}
	for i, n := range s.Secondaries {
		at := fmt.Sprintf("secondaries[%d]", i)
		if err := checkName(at+".name", n.Name, true); err != nil {
			return err
		}
		if err := checkAddress(at+".address", n.Address); err != nil {
			return err
		}
		if prev, dup := names[n.Name]; dup {
			return fieldErr(at+".name", "%q is already used by %s", n.Name, prev)
		}
		names[n.Name] = at + ".name"
		a := strings.ToLower(n.Address)
		if prev, dup := addrs[a]; dup {
			return fieldErr(at+".address", "%q is already used by %s", n.Address, prev)
		}
		addrs[a] = at + ".address"
	}
	return s.validateOptions()
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

// nodes lists the primary first, then the secondaries in spec order.
func (s *Spec) nodes() []Node {
	return append([]Node{s.Primary}, s.Secondaries...)
}

// Marshal renders the spec as YAML that ParseSpec reads back.
func (s *Spec) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# Cluster spec of this kit. Edit and rerun `xroad-image kit --reuse` to add a secondary or change the primary.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
