package metadata

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"xroad-appliance/provisioner/jointoken"
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
// ssh.hostKey, ssh.privateKey, adminUser.passwordHash, the central server's
// database and admin passwords, join.caKey and the join tokens' secrets)
// replaced by "<redacted>".
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
	if d.Join != nil {
		j := *d.Join
		j.CAKey = redact(j.CAKey)
		j.Tokens = make([]JoinToken, len(d.Join.Tokens))
		for i, t := range d.Join.Tokens {
			t.Token = redactToken(t.Token)
			j.Tokens[i] = t
		}
		r.Join = &j
	}
	return r
}

// redactToken keeps a token's ID, which names it in logs and requests.
func redactToken(s string) string {
	if t, err := jointoken.Parse(s); err == nil {
		return t.ID + "." + RedactedText
	}
	return redact(s)
}

// LogValue makes slog print a summary without secrets or PEM blobs, whether
// a Document or a *Document is logged.
func (d Document) LogValue() slog.Value {
	names := make([]string, len(d.Secondaries))
	for i, m := range d.Secondaries {
		names[i] = m.Name
	}
	attrs := []slog.Attr{
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
	}
	if d.Join != nil {
		attrs = append(attrs, slog.String("join", d.Join.String()))
	}
	return slog.GroupValue(attrs...)
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

// String names the join section's port and its tokens by ID.
func (j Join) String() string {
	ids := make([]string, len(j.Tokens))
	for i, t := range j.Tokens {
		ids[i] = redactToken(t.Token)
	}
	return fmt.Sprintf("metadata.Join{port=%d caKey=%s tokens=[%s]}", j.Port, redact(j.CAKey), strings.Join(ids, ","))
}

// GoString covers %#v.
func (j Join) GoString() string { return j.String() }

// LogValue covers slog handlers that would otherwise encode the struct (JSON).
func (j Join) LogValue() slog.Value { return slog.StringValue(j.String()) }

// String shows a token by its ID, with its expiry and uses.
func (t JoinToken) String() string {
	return fmt.Sprintf("metadata.JoinToken{token=%s expires=%s uses=%d}", redactToken(t.Token), t.Expires.Format(time.RFC3339), t.Uses)
}

// GoString covers %#v.
func (t JoinToken) GoString() string { return t.String() }

// LogValue covers slog handlers that would otherwise encode the struct (JSON).
func (t JoinToken) LogValue() slog.Value { return slog.StringValue(t.String()) }

// MarshalJSON covers a list of tokens logged as JSON: slog resolves no
// LogValue inside a slice.
func (t JoinToken) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// String shows where a join document points, the token by its ID.
func (t JoinTarget) String() string {
	return fmt.Sprintf("metadata.JoinTarget{primary=%s port=%d token=%s caPin=%s}", t.Primary, t.Port, redactToken(t.Token), t.CAPin)
}

// GoString covers %#v.
func (t JoinTarget) GoString() string { return t.String() }

// LogValue covers slog handlers that would otherwise encode the struct (JSON).
func (t JoinTarget) LogValue() slog.Value { return slog.StringValue(t.String()) }

// String keeps fmt's %v and %+v from printing the token.
func (j JoinDocument) String() string {
	return fmt.Sprintf("metadata.JoinDocument{cluster=%s role=%s join=%s}", j.Cluster, j.Role, j.Join)
}

// GoString covers %#v.
func (j JoinDocument) GoString() string { return j.String() }

// LogValue makes slog print a summary without the token's secret, whether
// a JoinDocument or a *JoinDocument is logged.
func (j JoinDocument) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("version", j.Version),
		slog.String("cluster", j.Cluster),
		slog.String("role", string(j.Role)),
		slog.String("primary", j.Join.Primary),
		slog.Int("port", j.Join.Port),
		slog.String("token", redactToken(j.Join.Token)),
		slog.String("caPin", j.Join.CAPin),
	)
}

// Marshal encodes the document as YAML, secrets included: it is what the
// frozen copy is written from. Parse(Marshal(d)) yields d again.
func (d *Document) Marshal() ([]byte, error) { return encode(d) }
