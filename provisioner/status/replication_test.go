package status

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/pg/pgtest"
	"xroad-appliance/provisioner/syncserve"
)

// cluster is a primary and a standby streaming from it as ss2, the way a
// provisioned pair replicates, over the primary's socket instead of TLS.
type cluster struct{ primary, standby *pgtest.Instance }

func startCluster(t *testing.T) cluster {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	access := pgtest.Access{HBA: pg.HBALocal + "\nlocal   replication   ss2   trust", Ident: pg.IdentLines}
	primary := pgtest.Start(t, access)
	primary.SQL(t, "postgres", "CREATE ROLE ss2 LOGIN REPLICATION")
	return cluster{primary, pgtest.StartStandby(t, primary, "ss2", "ss2")}
}

// provisionedInputs are a provisioned node's inputs for doc, with its
// serverconf instance at inst.
func provisionedInputs(t *testing.T, inst *pgtest.Instance, doc *metadata.Document) *Inputs {
	dir := t.TempDir()
	facts := debianFacts(t)
	facts.PG.Serverconf.Port = inst.Port
	in := &Inputs{Doc: doc, DocSource: "frozen:test", Facts: facts, SocketDir: inst.Socket,
		Systemd: unitStates{facts.PG.Serverconf.Unit + ".service": "active"},
		State:   nodestate.Open(filepath.Join(dir, "state")), SyncLog: filepath.Join(dir, "slave-sync.log"),
		SyncDisabledFlag: filepath.Join(dir, "sync-disabled"), SyncHome: seenHome(t, nil), Timeout: 10 * time.Second}
	writeFile(t, filepath.Join(in.State.Dir(), "provisioned"), "")
	return in
}

// waitReport collects until ok accepts the report or 30 s pass.
func waitReport(t *testing.T, in *Inputs, ok func(*Report) bool) *Report {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := Collect(context.Background(), in)
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			js, _ := json.MarshalIndent(r, "", "  ")
			t.Fatalf("gave up waiting; last report:\n%s", js)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestReplication(t *testing.T) {
	c := startCluster(t)

	t.Run("primary with a missing secondary", func(t *testing.T) {
		in := provisionedInputs(t, c.primary, testDoc(metadata.RolePrimary, "ss1", "ss2", "ss3"))
		if err := syncserve.Seen(in.SyncHome, "ss2", time.Now()); err != nil {
			t.Fatal(err)
		}
		r := waitReport(t, in, func(r *Report) bool {
			// write, flush and replay stay empty until the standby's first reply
			return r.Primary != nil && len(r.Primary.Secondaries) == 1 &&
				r.Primary.Secondaries[0].State == "streaming" && r.Primary.Secondaries[0].ReplayLSN != ""
		})
		s := r.Primary.Secondaries[0]
		if s.Name != "ss2" || !s.Expected || s.ClientAddr != "" || s.SyncState != "async" ||
			s.SentLSN == "" || s.ReplayLSN == "" || s.ReplayLagBytes == nil {
			t.Fatalf("standby row = %+v", s)
		}
		if !slices.Equal(r.Primary.Missing, []string{"ss3"}) || *r.Primary.InRecovery {
			t.Fatalf("primary = %+v", r.Primary)
		}
		if r.Primary.LastSeen["ss2"] == nil || r.Primary.LastSeen["ss3"] != nil || r.Primary.LastSeenError != "" {
			t.Fatalf("last seen %v, %s", r.Primary.LastSeen, r.Primary.LastSeenError)
		}
		if r.Healthy || !slices.Equal(r.Problems, []string{"secondary ss3 is not connected", "secondary ss3 has never been seen"}) {
			t.Fatalf("healthy %v, problems %q", r.Healthy, r.Problems)
		}
		if r.Sync != nil || r.Secondary != nil {
			t.Fatalf("secondary sections on a primary: %+v %+v", r.Sync, r.Secondary)
		}
		text := textOf(t, r)
		t.Logf("status on the primary:\n%s", text)
		for _, want := range []string{"1 of 2 expected secondaries streaming; missing: ss3 (never seen)", "ss2 ", "streaming", "ss3 ", "missing, never seen"} {
			if !strings.Contains(text, want) {
				t.Errorf("table lacks %q:\n%s", want, text)
			}
		}
		noSecrets(t, r)
	})

	t.Run("primary with every secondary streaming", func(t *testing.T) {
		in := provisionedInputs(t, c.primary, testDoc(metadata.RolePrimary, "ss1", "ss2"))
		r := Collect(context.Background(), in)
		if !r.Healthy || r.Primary == nil || len(r.Primary.Missing) != 0 || !r.Serverconf.AcceptsConnections {
			t.Fatalf("healthy %v, problems %q, primary %+v", r.Healthy, r.Problems, r.Primary)
		}
	})

	t.Run("secondary", func(t *testing.T) {
		c.primary.SQL(t, "postgres", "CREATE TABLE replicated AS SELECT 1 AS x")
		want := c.primary.SQL(t, "postgres", "SELECT pg_current_wal_lsn()")
		in := provisionedInputs(t, c.standby, testDoc(metadata.RoleSecondary, "ss2"))
		writeFile(t, in.SyncLog, time.Now().Add(-20*time.Second).Format("2006/01/02 15:04:05")+" [1] sent 105 bytes  received 36 bytes  total size 65,346\n")
		r := waitReport(t, in, func(r *Report) bool {
			return r.Secondary != nil && r.Secondary.ReplayLSN == want && r.Secondary.LastReplay != nil
		})
		s := r.Secondary
		if !*s.InRecovery || *s.ReplayPaused || s.WalReceiver != "streaming" || s.ReceiveLSN != want || *s.LagBytes != 0 {
			t.Fatalf("secondary = %+v", s)
		}
		if !r.Healthy || r.Sync.LastRun == nil || !r.Sync.LastRun.OK {
			t.Fatalf("healthy %v, problems %q, sync %+v", r.Healthy, r.Problems, r.Sync)
		}
		text := textOf(t, r)
		if !strings.Contains(text, "in recovery; WAL receiver streaming; receive "+want+", replay "+want+", lag 0 B") {
			t.Errorf("table:\n%s", text)
		}
		noSecrets(t, r)

		writeFile(t, in.SyncDisabledFlag, "")
		r = Collect(context.Background(), in)
		if r.Healthy || !r.Sync.Disabled || !slices.Equal(r.Problems, []string{"configuration sync is disabled (" + in.SyncDisabledFlag + " exists)"}) {
			t.Fatalf("healthy %v, problems %q", r.Healthy, r.Problems)
		}
	})

	t.Run("paused replay", func(t *testing.T) {
		in := provisionedInputs(t, c.standby, testDoc(metadata.RoleSecondary, "ss2"))
		c.standby.SQL(t, "postgres", "SELECT pg_wal_replay_pause()")
		defer c.standby.SQL(t, "postgres", "SELECT pg_wal_replay_resume()")
		r := waitReport(t, in, func(r *Report) bool {
			return r.Secondary != nil && r.Secondary.ReplayPaused != nil && *r.Secondary.ReplayPaused
		})
		if r.Healthy || !hasProblem(r, "WAL replay is paused") {
			t.Fatalf("problems %q", r.Problems)
		}
	})

	t.Run("secondary role on a primary instance", func(t *testing.T) {
		in := provisionedInputs(t, c.primary, testDoc(metadata.RoleSecondary, "ss2"))
		r := Collect(context.Background(), in)
		if r.Healthy || !hasProblem(r, "not in recovery") || *r.Secondary.InRecovery {
			t.Fatalf("problems %q, secondary %+v", r.Problems, r.Secondary)
		}
	})

	t.Run("stopped unit", func(t *testing.T) {
		in := provisionedInputs(t, c.primary, testDoc(metadata.RolePrimary, "ss1", "ss2"))
		in.Systemd = unitStates{}
		r := Collect(context.Background(), in)
		if r.Healthy || !slices.Equal(r.Problems, []string{"serverconf unit postgresql@15-serverconf.service is inactive"}) {
			t.Fatalf("problems %q", r.Problems)
		}
	})
}

func textOf(t *testing.T, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// noSecrets checks the table and the JSON for the document's secrets.
func noSecrets(t *testing.T, r *Report) {
	t.Helper()
	js, _ := json.Marshal(r)
	for _, out := range []string{textOf(t, r), string(js)} {
		for _, s := range testSecrets {
			if strings.Contains(out, s) {
				t.Errorf("output shows %q:\n%s", s, out)
			}
		}
	}
}
