package metadata

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedacted(t *testing.T) {
	for _, d := range []*Document{primaryDoc(t), secondaryDoc(t), joinPrimaryDoc(t)} {
		orig := marshal(t, d)
		r := d.Redacted()
		text := marshal(t, &r)
		assertNoSecrets(t, text, material(t).secrets()...)
		if !strings.Contains(text, RedactedText) {
			t.Error("no redaction marker")
		}
		if r.TLS.CA != d.TLS.CA || r.Node != d.Node || len(r.Secondaries) != len(d.Secondaries) {
			t.Error("non-secret fields changed")
		}
		if d.Role == RoleSecondary && r.SSH.HostKey != "" {
			t.Error("an absent secret must stay visibly absent")
		}
		if marshal(t, d) != orig {
			t.Error("Redacted modified the original")
		}
	}
}

func TestLoggingNeverShowsSecrets(t *testing.T) {
	d := primaryDoc(t)
	d.Join = joinPrimaryDoc(t).Join
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		log := slog.New(h)
		log.Info("pointer", "doc", d)
		log.Info("value", "doc", *d)
		log.Info("parts", "tls", d.TLS, "ssh", d.SSH, "join", d.Join, "tokens", d.Join.Tokens)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		fmt.Fprintf(&buf, verb+"\n", d)
		fmt.Fprintf(&buf, verb+"\n", *d)
		fmt.Fprintf(&buf, verb+"\n", d.TLS)
		fmt.Fprintf(&buf, verb+"\n", d.SSH)
		fmt.Fprintf(&buf, verb+"\n", d.Join)
		fmt.Fprintf(&buf, verb+"\n", d.Join.Tokens)
	}
	out := buf.String()
	assertNoSecrets(t, out, material(t).secrets()...)
	if !strings.Contains(out, "ss-cluster") || !strings.Contains(out, "ss2,ss3") || !strings.Contains(out, "tokens=[k7x2qa.<redacted>]") {
		t.Errorf("log lacks the summary:\n%s", out)
	}
}
