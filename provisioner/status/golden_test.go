package status

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ptr[T any](v T) *T { return &v }

// goldenReports are one report per role with every section filled, the way
// Collect fills them.
func goldenReports() map[string]*Report {
	at := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	base := func() *Report {
		return &Report{Schema: Schema, Time: at,
			Serverconf: Serverconf{Unit: "postgresql@15-serverconf.service", UnitState: "active", Port: 5433, AcceptsConnections: true},
			HealthCheck: HealthCheck{URL: "http://127.0.0.1:5588/", StatusCode: 500,
				FirstLine: "Fetching health check response timed out for: Authentication key OCSP status"},
		}
	}
	primary := base()
	primary.Problems = []string{"secondary ss3 is not connected"}
	primary.Node = Node{Role: "primary", Name: "ss1", Cluster: "c1", Source: "frozen:/var/lib/xroad-node/metadata.yaml"}
	primary.Primary = &PrimaryState{InRecovery: ptr(false), Missing: []string{"ss3"}, Secondaries: []Standby{{
		Name: "ss2", Expected: true, ClientAddr: "10.0.0.2", State: "streaming", SyncState: "async",
		SentLSN: "0/4058A40", WriteLSN: "0/4058A40", FlushLSN: "0/4058A40", ReplayLSN: "0/4058A40",
		ReplayLagBytes: ptr(int64(0)), ReplayLagSeconds: ptr(0.000734),
	}}}
	primary.Provisioning = Provisioning{Provisioned: true, Done: []string{"stop-services", "tls"}, Pending: []string{},
		Result: &Result{Status: "provisioned", Time: at.Add(-time.Hour)}}

	secondary := base()
	secondary.Problems = []string{"not provisioned", "provisioning failed in phase basebackup; retry: /usr/bin/xroad-node provision --phase basebackup (or /usr/bin/xroad-node provision to resume)",
		"configuration sync is disabled (/var/tmp/xroad/sync-disabled exists)"}
	secondary.Node = Node{Role: "secondary", Name: "ss2", Cluster: "c1", Source: "frozen:/var/lib/xroad-node/metadata.yaml"}
	secondary.Secondary = &SecondaryState{InRecovery: ptr(true), ReplayPaused: ptr(false), WalReceiver: "streaming",
		ReceiveLSN: "0/4058A40", ReplayLSN: "0/4058A40", LagBytes: ptr(int64(0)), LastReplay: ptr(at.Add(-time.Minute))}
	secondary.Sync = &Sync{Log: "/var/log/xroad/slave-sync.log", Disabled: true, DisabledFlag: "/var/tmp/xroad/sync-disabled",
		LastRun: &SyncRun{Time: at.Add(-30 * time.Second), AgeSeconds: 30, OK: true, Changes: 3,
			Message: "sent 264 bytes  received 1,886 bytes  total size 65,346", File: "/var/log/xroad/slave-sync.log"}}
	secondary.Provisioning = Provisioning{Done: []string{"stop-services", "tls", "serverconf-instance", "ssh", "wait-primary"},
		Pending: []string{"basebackup", "local-access"},
		Result: &Result{Status: "failed", Phase: "basebackup", Error: "phase basebackup: pg_basebackup: exit status 1",
			Retry: "/usr/bin/xroad-node provision --phase basebackup (or /usr/bin/xroad-node provision to resume)", Time: at.Add(-time.Hour)}}
	return map[string]*Report{"primary": primary, "secondary": secondary}
}

// TestGolden pins the JSON field names (the documented, stable shape) and
// the table a person reads.
func TestGolden(t *testing.T) {
	for name, r := range goldenReports() {
		t.Run(name, func(t *testing.T) {
			js, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			compareGolden(t, filepath.Join("testdata", name+".json"), append(js, '\n'))
			compareGolden(t, filepath.Join("testdata", name+".txt"), text.Bytes())
		})
	}
}

// TestJSONKeysAreDocumented checks every key the report can carry against
// the package documentation.
func TestJSONKeysAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range goldenReports() {
		r.Node.Error, r.Serverconf.UnitError, r.Serverconf.Error, r.HealthCheck.Error = "x", "x", "x", "x"
		r.Provisioning.Error = "x"
		if r.Sync != nil {
			r.Sync.Error = "x"
		}
		js, _ := json.Marshal(r)
		var v any
		json.Unmarshal(js, &v)
		for _, key := range keys(v) {
			if !strings.Contains(string(doc), key) {
				t.Errorf("JSON key %q is not documented in doc.go", key)
			}
		}
	}
}

func keys(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			out = append(out, k)
			out = append(out, keys(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, keys(x)...)
		}
	}
	return out
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./provisioner/status -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./provisioner/status -update and review):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}
