package metadata

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"

	"gopkg.in/yaml.v3"
)

// Redacted stands in for a secret that is set.
const RedactedText = "<redacted>"

func redact(s string) string {
	if s == "" {
		return "" // show that it is absent
	}
	return RedactedText
}

// Redacted returns a deep copy with every secret (serverconfPassword, tls.key,
// ssh.hostKey, ssh.privateKey, adminUser.passwordHash, the central server's database and admin
// passwords) replaced by "<redacted>".
func (d *Document) Redacted() Document {
	r := *d
	r.Secondaries = append([]Member(nil), d.Secondaries...)
	r.ServerconfPassword = redact(d.ServerconfPassword)
	r.TLS.Key = redact(d.TLS.Key)
	r.SSH.HostKey = redact(d.SSH.HostKey)
	r.SSH.PrivateKey = redact(d.SSH.PrivateKey)
	if d.AdminUser != nil {
		a := *d.AdminUser
		a.PasswordHash = redact(a.PasswordHash)
		r.AdminUser = &a
	}
	if d.CentralServer != nil {
		cs := *d.CentralServer
		cs.Database.Standbys = append([]Host(nil), cs.Database.Standbys...)
		cs.Nodes = append([]CSNode(nil), cs.Nodes...)
		cs.Database.Password = redact(cs.Database.Password)
		cs.Database.ReplicationPassword = redact(cs.Database.ReplicationPassword)
		cs.Admin.Password = redact(cs.Admin.Password)
		r.CentralServer = &cs
	}
	return r
}

// LogValue makes slog print a summary without secrets or PEM blobs, whether
// a Document or a *Document is logged.
func (d Document) LogValue() slog.Value {
	names := make([]string, len(d.Secondaries))
	for i, m := range d.Secondaries {
		names[i] = m.Name
	}
	return slog.GroupValue(
		slog.String("version", d.Version),
		slog.String("cluster", d.Cluster),
		slog.String("role", string(d.Role)),
		slog.String("node", d.Node),
		slog.String("primary", d.Primary.Name),
		slog.String("primaryAddress", d.Primary.Address),
		slog.String("secondaries", strings.Join(names, ",")),
		slog.Int("healthCheckPort", d.Options.HealthCheckPort),
		slog.String("healthCheckInterface", d.Options.HealthCheckInterface),
		slog.Bool("pooledConnections", d.Options.PooledConnections),
	)
}

// String keeps fmt's %v and %+v from printing secrets.
func (d Document) String() string {
	return fmt.Sprintf("metadata.Document{cluster=%s role=%s node=%s primary=%s}",
		d.Cluster, d.Role, d.Node, d.Primary.Name)
}

// GoString covers %#v.
func (d Document) GoString() string { return d.String() }

// String keeps a TLS value printed on its own from showing the key.
func (t TLS) String() string { return "metadata.TLS{key=" + redact(t.Key) + "}" }

// GoString covers %#v.
func (t TLS) GoString() string { return t.String() }

// LogValue covers slog handlers that would otherwise encode the struct (JSON).
func (t TLS) LogValue() slog.Value { return slog.StringValue(t.String()) }

// String keeps an SSH value printed on its own from showing private keys.
func (s SSH) String() string {
	return "metadata.SSH{hostKey=" + redact(s.HostKey) + " privateKey=" + redact(s.PrivateKey) + "}"
}

// GoString covers %#v.
func (s SSH) GoString() string { return s.String() }

// LogValue covers slog handlers that would otherwise encode the struct (JSON).
func (s SSH) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Marshal encodes the document as YAML, secrets included: it is what the
// frozen copy is written from. Parse(Marshal(d)) yields d again.
func (d *Document) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("metadata: encoding document: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("metadata: encoding document: %w", err)
	}
	return buf.Bytes(), nil
}
