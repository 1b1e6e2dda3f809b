package status

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/syncserve"
)

// seenHome is a sync user's home where serve-sync saw each member at the
// time given.
func seenHome(t *testing.T, seen map[string]time.Time) string {
	t.Helper()
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, syncserve.SeenDir), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, at := range seen {
		if err := syncserve.Seen(home, name, at); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// TestLastSeenInTheReport: the primary's report gives every secondary of
// the document its last sync from the records, null when never, and leaves
// out a member the document no longer lists; the records are read even
// when the serverconf instance does not answer.
func TestLastSeenInTheReport(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	home := seenHome(t, map[string]time.Time{
		"ss2": now.Add(-30*time.Second - 400*time.Millisecond), "ss3": now.Add(-14 * time.Minute), "ss9": now.Add(-time.Hour)})
	dir := t.TempDir()
	facts := debianFacts(t)
	facts.PG.Serverconf.Port = 1 // nothing listens on a socket in dir
	in := &Inputs{Doc: testDoc(metadata.RolePrimary, "ss1", "ss2", "ss3", "ss4"), DocSource: "frozen:test", Facts: facts,
		Systemd: unitStates{}, State: nodestate.Open(filepath.Join(dir, "state")), SocketDir: dir, SyncHome: home,
		Timeout: time.Second, Now: func() time.Time { return now }}
	r := Collect(context.Background(), in)
	if r.Primary == nil || r.Primary.LastSeenError != "" {
		t.Fatalf("primary = %+v", r.Primary)
	}
	js, _ := json.Marshal(r.Primary.LastSeen)
	if want := `{"ss2":"2026-12-05T08:59:29Z","ss3":"2026-12-05T08:46:00Z","ss4":null}`; string(js) != want {
		t.Fatalf("lastSeen %s, want %s", js, want)
	}
}

func TestLastSeenUnreadable(t *testing.T) {
	if _, err := probeSeen(&Inputs{}); err == nil || !strings.Contains(err.Error(), "home is unknown") {
		t.Errorf("without a home: %v", err)
	}
	home := t.TempDir()
	writeFile(t, filepath.Join(home, syncserve.SeenDir), "")
	if _, err := probeSeen(&Inputs{SyncHome: home}); err == nil || !strings.Contains(err.Error(), "last syncs: ") {
		t.Errorf("seen is a file: %v", err)
	}
}

// seenPrimary is a primary with ss2 streaming and every other kind of
// secondary that does not stream, judged and printed at now.
func seenPrimary(now time.Time) *Report {
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	return &Report{Time: now, Primary: &PrimaryState{InRecovery: ptr(false),
		Secondaries: []Standby{
			{Name: "ss2", Expected: true, State: "streaming"},
			{Name: "ss6", Expected: true, State: "catchup"},
			{Name: "ss7", Expected: true, State: "startup"},
		},
		Missing: []string{"ss3", "ss4", "ss5"},
		LastSeen: map[string]*time.Time{"ss2": at(10 * time.Minute), "ss3": at(14 * time.Minute), "ss4": nil,
			"ss5": at(time.Minute), "ss6": at(5 * time.Minute), "ss7": at(-time.Minute)}}}
}

// TestNotSeenJudgement: a secondary that does not stream is named when not
// seen for longer than the sync age limit, or never; the existing problems
// stay as they were. A streaming secondary is not judged by its records.
func TestNotSeenJudgement(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	r := seenPrimary(now)
	want := []string{
		"secondary ss3 is not connected", "secondary ss3 has not been seen for 14m0s",
		"secondary ss4 is not connected", "secondary ss4 has never been seen",
		"secondary ss5 is not connected",
		"secondary ss6 is catchup, not streaming", "secondary ss6 has not been seen for 5m0s",
		"secondary ss7 is startup, not streaming",
	}
	if got := primaryProblems(r.Primary, now, 3*time.Minute); !slices.Equal(got, want) {
		t.Errorf("problems\n%q\nwant\n%q", got, want)
	}

	r.Primary.LastSeenError = "last syncs: permission denied"
	for i := range r.Primary.LastSeen {
		r.Primary.LastSeen[i] = nil
	}
	want = []string{"secondary ss3 is not connected", "secondary ss4 is not connected", "secondary ss5 is not connected",
		"secondary ss6 is catchup, not streaming", "secondary ss7 is startup, not streaming"}
	if got := primaryProblems(r.Primary, now, 3*time.Minute); !slices.Equal(got, want) {
		t.Errorf("with unreadable records: problems\n%q\nwant\n%q", got, want)
	}
}

// TestNotSeenText: the missing list and the standby table say how long ago
// a secondary that does not stream last synced.
func TestNotSeenText(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	r := seenPrimary(now)
	text := textOf(t, r)
	for _, want := range []string{
		"missing: ss3 (last synced 14m0s ago), ss4 (never seen), ss5 (last synced 1m0s ago)\n",
		"ss6        -       catchup, last synced 5m0s ago",
		"ss7        -       startup, last synced 0s ago",
		"ss4        -       missing, never seen",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "ss2        -       streaming,") {
		t.Errorf("a streaming secondary's last sync shown:\n%s", text)
	}

	r.Primary.LastSeenError = "last syncs: permission denied"
	text = textOf(t, r)
	if !strings.Contains(text, "missing: ss3, ss4, ss5; last syncs unknown: last syncs: permission denied\n") || strings.Contains(text, "never seen") {
		t.Errorf("with unreadable records:\n%s", text)
	}
}
