package status

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"xroad-appliance/provisioner/centralserver"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/pg/pgtest"
)

func TestCentralServerProblems(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name string
		role metadata.Role
		cs   *CentralServer
		want string
	}{
		{"healthy primary", metadata.RoleCSDBPrimary, &CentralServer{InRecovery: &no}, ""},
		{"standby missing", metadata.RoleCSDBPrimary, &CentralServer{InRecovery: &no, Missing: []string{"db2"}}, "standby db2 is not streaming"},
		{"primary in recovery", metadata.RoleCSDBPrimary, &CentralServer{InRecovery: &yes}, "in recovery"},
		{"streaming standby", metadata.RoleCSDBStandby, &CentralServer{InRecovery: &yes, WalReceiver: "streaming"}, ""},
		{"standby waiting", metadata.RoleCSDBStandby, &CentralServer{InRecovery: &yes, WalReceiver: "waiting"}, `"waiting", not streaming`},
		{"promoted standby", metadata.RoleCSDBStandby, &CentralServer{InRecovery: &no}, "not in recovery"},
		{"fenced old primary", metadata.RoleCSDBPrimary, &CentralServer{Fenced: &centralserver.Fenced{Peer: "db2 (10.0.0.22)", PeerTimeline: 2, Timeline: 1},
			Error: "connection refused"}, "db2 (10.0.0.22) is on timeline 2, newer than this node's 1"},
		{"central server reaching a writer", metadata.RoleCSNode, &CentralServer{HANodeName: "node_0", Writable: "10.0.0.21:5432"}, ""},
		{"central server without database", metadata.RoleCSNode, &CentralServer{HANodeName: "node_0", Error: "no writable database among 10.0.0.21"}, "no writable database"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Join(centralServerProblems(c.role, c.cs), "; ")
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("problems = %q, want %q", got, c.want)
			}
		})
	}
}

func TestScrubHidesCentralServerPasswords(t *testing.T) {
	d := &metadata.Document{CentralServer: &metadata.CentralServer{
		Database: metadata.CSDatabase{Password: "owner-secret-1", ReplicationPassword: "repl-secret-2"},
		Admin:    metadata.Credentials{Password: "admin-secret-3"},
	}}
	got := scrub("failed: owner-secret-1 repl-secret-2 admin-secret-3", d)
	if strings.Contains(got, "secret") {
		t.Errorf("scrubbed text = %q", got)
	}
}

// csDatabaseInputs are a provisioned database node's inputs, its instance at
// inst; the role document lists db2 and db3 as standbys of db1.
func csDatabaseInputs(t *testing.T, inst *pgtest.Instance, role metadata.Role, node string) *Inputs {
	t.Helper()
	dir := t.TempDir()
	facts := debianFacts(t)
	facts.PG.Default.Port = inst.Port
	doc := &metadata.Document{Version: metadata.Version, Cluster: "cs", Role: role, Node: node,
		CentralServer: &metadata.CentralServer{Database: metadata.CSDatabase{
			Primary:  metadata.Host{Name: "db1", Address: "10.0.0.21"},
			Standbys: []metadata.Host{{Name: "db2", Address: "10.0.0.22"}, {Name: "db3", Address: "10.0.0.23"}},
			Port:     5432, Name: "centerui", Owner: "centerui", Password: "owner-SECRET", ReplicationPassword: "repl-SECRET"}}}
	in := &Inputs{Doc: doc, DocSource: "frozen:test", Facts: facts, SocketDir: inst.Socket,
		Systemd: unitStates{facts.PG.Default.Unit + ".service": "active"},
		State:   nodestate.Open(filepath.Join(dir, "state")), Timeout: 10 * time.Second}
	writeFile(t, filepath.Join(in.State.Dir(), "provisioned"), "")
	return in
}

// TestCentralServerDatabaseLag streams db2 from db1 on real PostgreSQL and
// reads the replay lag on both sides, caught up and with replay paused.
func TestCentralServerDatabaseLag(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	access := pgtest.Access{HBA: pg.HBALocal + "\nlocal   replication   db2   trust", Ident: pg.IdentLines}
	primary := pgtest.Start(t, access)
	primary.SQL(t, "postgres", "CREATE ROLE db2 LOGIN REPLICATION")
	standby := pgtest.StartStandby(t, primary, "db2", "db2")
	onPrimary := csDatabaseInputs(t, primary, metadata.RoleCSDBPrimary, "db1")
	onStandby := csDatabaseInputs(t, standby, metadata.RoleCSDBStandby, "db2")

	t.Run("primary", func(t *testing.T) {
		r := waitReport(t, onPrimary, func(r *Report) bool {
			cs := r.CentralServer
			return len(cs.Standbys) == 1 && cs.Standbys[0].State == "streaming" && cs.Standbys[0].ReplayLSN != ""
		})
		cs := r.CentralServer
		if s := cs.Standbys[0]; s.Name != "db2" || !s.Expected || s.ReplayLagBytes == nil || s.SentLSN == "" {
			t.Fatalf("standby row = %+v", s)
		}
		if !slices.Equal(cs.Missing, []string{"db3"}) || !slices.Equal(r.Problems, []string{"standby db3 is not streaming"}) {
			t.Fatalf("missing %q, problems %q", cs.Missing, r.Problems)
		}
		text := textOf(t, r)
		t.Logf("status on the database primary:\n%s", text)
		if !strings.Contains(text, "primary; standbys: db2 streaming (lag "+bytesText(cs.Standbys[0].ReplayLagBytes)) ||
			!strings.Contains(text, "db3 missing") {
			t.Errorf("text:\n%s", text)
		}
		noSecrets(t, r)
	})

	t.Run("standby caught up", func(t *testing.T) {
		primary.SQL(t, "postgres", "CREATE TABLE replicated AS SELECT 1 AS x")
		want := primary.SQL(t, "postgres", "SELECT pg_current_wal_lsn()")
		r := waitReport(t, onStandby, func(r *Report) bool {
			return r.CentralServer.ReplayLSN == want && r.CentralServer.LastReplay != nil
		})
		cs := r.CentralServer
		if cs.WalReceiver != "streaming" || cs.ReceiveLSN != want || *cs.LagBytes != 0 ||
			cs.LastReplayAgeSeconds == nil || *cs.LastReplayAgeSeconds < 0 || *cs.LastReplayAgeSeconds > 60 {
			t.Fatalf("section = %+v", cs)
		}
		if !r.Healthy {
			t.Fatalf("problems %q", r.Problems)
		}
		text := textOf(t, r)
		t.Logf("status on the database standby:\n%s", text)
		if !strings.Contains(text, "standby, WAL receiver streaming; receive "+want+", replay "+want+", lag 0 B; last replayed transaction ") {
			t.Errorf("text:\n%s", text)
		}
		noSecrets(t, r)
	})

	t.Run("replay paused", func(t *testing.T) {
		standby.SQL(t, "postgres", "SELECT pg_wal_replay_pause()")
		defer standby.SQL(t, "postgres", "SELECT pg_wal_replay_resume()")
		primary.SQL(t, "postgres", "INSERT INTO replicated SELECT generate_series(1, 10000)")
		r := waitReport(t, onStandby, func(r *Report) bool {
			return r.CentralServer.LagBytes != nil && *r.CentralServer.LagBytes > 0
		})
		lag := strconv.FormatInt(*r.CentralServer.LagBytes, 10)
		if text := textOf(t, r); !strings.Contains(text, "lag "+lag+" B") {
			t.Errorf("text:\n%s", text)
		}
		r = waitReport(t, onPrimary, func(r *Report) bool {
			s := r.CentralServer.Standbys
			return len(s) == 1 && s[0].ReplayLagBytes != nil && *s[0].ReplayLagBytes > 0
		})
		if r.CentralServer.Standbys[0].ReplayLagBytes == nil {
			t.Fatal("no replay lag on the primary")
		}
	})
}

func TestCentralServerTextWithoutDatabase(t *testing.T) {
	cs := &CentralServer{HANodeName: "node_0", Error: "no writable database among 10.0.0.21"}
	if got := cs.text(); got != "ha-node-name node_0; error: no writable database among 10.0.0.21" {
		t.Errorf("text = %q", got)
	}
}
