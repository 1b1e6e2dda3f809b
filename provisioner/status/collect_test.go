package status

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
)

// unitStates answers ActiveState from a map, as systemd would for loaded units.
type unitStates map[string]string

func (u unitStates) ActiveState(_ context.Context, name string) (string, error) {
	if s, ok := u[name]; ok {
		return s, nil
	}
	return "inactive", nil
}

// hung never answers and ignores its context, the worst a probe can do.
type hung struct{}

func (hung) ActiveState(context.Context, string) (string, error) { select {} }

func TestBoundedGivesUpOnAHungProbe(t *testing.T) {
	start := time.Now()
	_, err := bounded(context.Background(), 50*time.Millisecond, func(context.Context) (int, error) { select {} })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
}

func TestBoundedTurnsAPanicIntoAnError(t *testing.T) {
	_, err := bounded(context.Background(), time.Second, func(context.Context) (int, error) { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
}

// TestProbesAreIndependent points a secondary at a hung systemd and a
// serverconf instance that is not there: both are reported, and the sync,
// provisioning and health check probes still answer.
func TestProbesAreIndependent(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2017, 3, 10, 11, 42, 31, 0, time.Local)
	facts := debianFacts(t)
	facts.PG.Serverconf.Port = 1 // nothing listens on a socket in dir
	doc := healthServer(t, 200, "")
	doc.Role, doc.Node = metadata.RoleSecondary, "ss2"
	in := &Inputs{Doc: doc, DocSource: "frozen:test", Facts: facts, Systemd: hung{},
		State: nodestate.Open(filepath.Join(dir, "state")), SyncLog: filepath.Join(dir, "slave-sync.log"),
		SyncDisabledFlag: filepath.Join(dir, "sync-disabled"), SocketDir: dir,
		Timeout: 300 * time.Millisecond, Now: func() time.Time { return now }}
	writeFile(t, in.SyncLog, guideSuccess)

	start := time.Now()
	r := Collect(context.Background(), in)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Collect took %s with a 300ms probe limit", d)
	}
	if !strings.Contains(r.Serverconf.UnitError, "no answer within") || r.Serverconf.AcceptsConnections || r.Serverconf.Error == "" {
		t.Fatalf("serverconf = %+v", r.Serverconf)
	}
	if r.Secondary == nil || !strings.Contains(r.Secondary.Error, "not queried") {
		t.Fatalf("secondary = %+v", r.Secondary)
	}
	if r.Sync == nil || r.Sync.LastRun == nil || !r.Sync.LastRun.OK || r.Sync.LastRun.AgeSeconds != 30 {
		t.Fatalf("sync = %+v", r.Sync)
	}
	if r.HealthCheck.StatusCode != 200 || r.Provisioning.Pending == nil || r.Primary != nil {
		t.Fatalf("report = %+v", r)
	}
	if r.Healthy || !hasProblem(r, "state unknown") || !hasProblem(r, "does not accept connections") || !hasProblem(r, "not provisioned") {
		t.Fatalf("problems = %q", r.Problems)
	}
	if hasProblem(r, "sync") {
		t.Fatalf("a fresh successful sync was judged: %q", r.Problems)
	}
}

func TestSecondarySyncJudgement(t *testing.T) {
	ok := &Sync{Log: "L", DisabledFlag: "F", LastRun: &SyncRun{OK: true, AgeSeconds: 60}}
	tests := []struct {
		name string
		sync Sync
		want string
	}{
		{"fresh success", *ok, ""},
		{"disabled", Sync{Log: "L", DisabledFlag: "F", Disabled: true, LastRun: ok.LastRun}, "configuration sync is disabled (F exists)"},
		{"stale", Sync{Log: "L", LastRun: &SyncRun{OK: true, AgeSeconds: 600}}, "last sync ended 10m0s ago, more than 3m0s"},
		{"failed", Sync{Log: "L", LastRun: &SyncRun{ExitCode: 255, Message: "connection unexpectedly closed", Time: time.Date(2017, 3, 10, 11, 44, 3, 0, time.UTC)}},
			"last sync at 2017-03-10T11:44:03Z failed (rsync code 255): connection unexpectedly closed"},
		{"never", Sync{Log: "L"}, "no finished sync run in L"},
	}
	for _, tt := range tests {
		got := strings.Join(syncProblems(&tt.sync, 3*time.Minute), "|")
		if got != tt.want {
			t.Errorf("%s: problems %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSyncMaxAgeFollowsTheTimer(t *testing.T) {
	if got := (&Inputs{}).withDefaults().SyncMaxAge; got != 3*time.Minute {
		t.Fatalf("default sync max age %s, want three 60 s timer periods", got)
	}
}

func hasProblem(r *Report, part string) bool {
	for _, p := range r.Problems {
		if strings.Contains(p, part) {
			return true
		}
	}
	return false
}
