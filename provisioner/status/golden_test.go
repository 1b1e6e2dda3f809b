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
	primary.Problems = []string{"secondary ss3 is not connected", "secondary ss3 has not been seen for 14m0s"}
	primary.Node = Node{Role: "primary", Name: "ss1", Cluster: "c1", Source: "frozen:/var/lib/xroad-node/metadata.yaml"}
	primary.Primary = &PrimaryState{InRecovery: ptr(false), Missing: []string{"ss3"}, Secondaries: []Standby{{
		Name: "ss2", Expected: true, ClientAddr: "10.0.0.2", State: "streaming", SyncState: "async",
		SentLSN: "0/4058A40", WriteLSN: "0/4058A40", FlushLSN: "0/4058A40", ReplayLSN: "0/4058A40",
		ReplayLagBytes: ptr(int64(0)), ReplayLagSeconds: ptr(0.000734),
	}}, LastSeen: map[string]*time.Time{"ss2": ptr(at.Add(-20 * time.Second)), "ss3": ptr(at.Add(-14 * time.Minute))}}
	primary.Provisioning = Provisioning{Provisioned: true, Done: []string{"stop-services", "tls"}, Pending: []string{},
		Result: &Result{Status: "provisioned", Time: at.Add(-time.Hour), Attempts: []Attempt{}}, MovedAside: []MovedAside{}}
	made := at.Add(-time.Hour)
	primary.Identity = []Identity{
		{Item: "/etc/xroad/ssl/internal.{crt,key,p12}", Origin: generatedHere, Phase: "certificates", Time: &made},
		{Item: "admin user xroad-admin", Origin: generatedHere, Phase: "admin-user", Time: &made},
	}

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
			Retry: "/usr/bin/xroad-node provision --phase basebackup (or /usr/bin/xroad-node provision to resume)", Time: at.Add(-time.Hour),
			Attempts: []Attempt{
				{Time: at.Add(-61 * time.Minute), Phase: "basebackup", Outcome: "retried",
					Error: "pg_basebackup: error: could not receive data from WAL stream: SSL connection has been closed unexpectedly"},
				{Time: at.Add(-time.Hour), Phase: "basebackup", Outcome: "failed", Error: "phase basebackup: pg_basebackup: exit status 1"},
			}},
		MovedAside: []MovedAside{{Path: "/var/lib/postgresql/15/serverconf.replaced-20261122T130000Z", Kind: "replaced", Bytes: 41234567}}}
	secondary.Identity = []Identity{
		{Item: "/etc/xroad/ssl/internal.{crt,key,p12}", Origin: synced, Phase: "initial-sync"},
		{Item: "serverconf database", Origin: replicated, Phase: "basebackup"},
	}
	reports := map[string]*Report{"primary": primary, "secondary": secondary}
	for name, r := range centralServerGoldenReports(at) {
		reports[name] = r
	}
	return reports
}

// centralServerGoldenReports are the central-server HA roles' reports, which
// have a centralServer section in place of the security-server ones.
func centralServerGoldenReports(at time.Time) map[string]*Report {
	base := func(role, node string, problems ...string) *Report {
		return &Report{Schema: Schema, Time: at, Healthy: len(problems) == 0, Problems: append([]string{}, problems...),
			Node:         Node{Role: role, Name: node, Cluster: "cs", Source: "frozen:/var/lib/xroad-node/metadata.yaml"},
			Provisioning: Provisioning{Provisioned: true, Done: []string{"tls", "wait-database"}, Pending: []string{}, MovedAside: []MovedAside{}}}
	}
	csNode := base("cs-node", "cs1", "HA node node_1 (cs2.example.org) is WARN", "the central server reports all_nodes_ok false")
	csNode.CentralServer = &CentralServer{HANodeName: "node_0", Writable: "10.0.0.21:5432", HACluster: &HACluster{
		URL: DefaultCenterAPI + HAStatusPath, APIKeyFile: CenterAPIKeyFile, Asked: true,
		HAConfigured: ptr(true), NodeName: "node_0", AllNodesOK: ptr(false), Nodes: []HANode{
			{Name: "node_0", Address: "cs1.example.org", ConfigurationGenerated: ptr("2023-06-06T09:48:02.000Z"), Status: "OK"},
			{Name: "node_1", Address: "cs2.example.org", ConfigurationGenerated: ptr("2023-06-06T09:46:02.000Z"), Status: "WARN"},
			{Name: "node_2", Address: "cs3.example.org", Status: "UNKNOWN"}}}}

	dbPrimary := base("cs-db-primary", "db1", "standby db3 is not streaming")
	dbPrimary.CentralServer = &CentralServer{Unit: "postgresql@15-main.service", UnitState: "active", InRecovery: ptr(false),
		Missing: []string{"db3"}, Standbys: []Standby{{
			Name: "db2", Expected: true, ClientAddr: "10.0.0.22", State: "streaming", SyncState: "async",
			SentLSN: "0/5000148", WriteLSN: "0/5000148", FlushLSN: "0/5000148", ReplayLSN: "0/5000060",
			ReplayLagBytes: ptr(int64(232)), ReplayLagSeconds: ptr(0.0021)}}}

	dbStandby := base("cs-db-standby", "db2")
	dbStandby.CentralServer = &CentralServer{Unit: "postgresql@15-main.service", UnitState: "active", InRecovery: ptr(true),
		WalReceiver: "streaming", ReceiveLSN: "0/5000148", ReplayLSN: "0/5000060", LagBytes: ptr(int64(232)),
		LastReplay: ptr(at.Add(-12 * time.Second)), LastReplayAgeSeconds: ptr(12.0)}
	return map[string]*Report{"cs-node": csNode, "cs-db-primary": dbPrimary, "cs-db-standby": dbStandby}
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
		if r.Primary != nil {
			r.Primary.LastSeenError = "x"
		}
		if cs := r.CentralServer; cs != nil {
			cs.Error = "x"
			if cs.HACluster != nil {
				cs.HACluster.Error = "x"
			}
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
			if k != "lastSeen" { // keyed by node names
				out = append(out, keys(x)...)
			}
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
