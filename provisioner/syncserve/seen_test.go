package syncserve

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func seenHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, SeenDir), 0o700); err != nil {
		t.Fatal(err)
	}
	return home
}

func TestSeenRecordsTheMoment(t *testing.T) {
	home := seenHome(t)
	first := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := Seen(home, "ss2", first); err != nil {
		t.Fatal(err)
	}
	if err := Seen(home, "ss3", first.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A later sync moves the record forward; the file stays empty.
	if err := Seen(home, "ss2", first.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := LastSeen(home)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["ss2"].Equal(first.Add(2*time.Minute)) || !got["ss3"].Equal(first.Add(time.Minute)) {
		t.Fatalf("last seen %v", got)
	}
	st, err := os.Stat(filepath.Join(home, SeenDir, "ss2"))
	if err != nil || st.Size() != 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("record %v, %v", st, err)
	}
}

func TestSeenRefusesWhatIsNoMemberName(t *testing.T) {
	home := seenHome(t)
	for _, name := range []string{"", "..", "../etc", "a/b", "SS2", "-rf", "ss2 x", "postgres", "x\x1b[2J"} {
		if err := Seen(home, name, time.Now()); err == nil {
			t.Errorf("%q recorded", name)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(home, SeenDir))
	if len(entries) != 0 {
		t.Fatalf("files written: %v", entries)
	}
}

func TestSeenFollowsNoLinkAndWaitsOnNoFIFO(t *testing.T) {
	home := seenHome(t)
	target := filepath.Join(home, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(target, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(home, SeenDir, "ss2")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(home, SeenDir, "ss3"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() {
		done <- Seen(home, "ss2", time.Now())
		done <- Seen(home, "ss3", time.Now())
	}()
	for i := 0; i < 2; i++ {
		select {
		case err := <-done:
			if err == nil {
				t.Error("recorded through a link or into a FIFO")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("blocked")
		}
	}
	if st, _ := os.Stat(target); !st.ModTime().Equal(old) {
		t.Errorf("the link's target was touched: %v", st.ModTime())
	}
	got, err := LastSeen(home)
	if err != nil || len(got) != 0 {
		t.Fatalf("a link and a FIFO count as records: %v, %v", got, err)
	}
}

func TestSeenWithoutTheDirectory(t *testing.T) {
	home := t.TempDir()
	if err := Seen(home, "ss2", time.Now()); err == nil {
		t.Fatal("recorded without the directory the primary makes")
	}
	got, err := LastSeen(home)
	if err != nil || len(got) != 0 {
		t.Fatalf("nobody seen yet: %v, %v", got, err)
	}
}

func TestLastSeenSkipsStrangers(t *testing.T) {
	home := seenHome(t)
	for _, name := range []string{"Upper", ".hidden", "tmp~"} {
		if err := os.WriteFile(filepath.Join(home, SeenDir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(home, SeenDir, "ss4"), 0o700); err != nil {
		t.Fatal(err)
	}
	got, err := LastSeen(home)
	if err != nil || len(got) != 0 {
		t.Fatalf("%v, %v", got, err)
	}
}

func TestAuthorizedKey(t *testing.T) {
	got, err := AuthorizedKey("/usr/bin/xroad-node", "ss2", " ssh-ed25519 AAAAC3Nza\n")
	want := `restrict,command="/usr/bin/xroad-node serve-sync ss2" ssh-ed25519 AAAAC3Nza ss2`
	if err != nil || got != want {
		t.Fatalf("%q, %v\nwant %q", got, err, want)
	}
	for _, c := range []struct{ name, key string }{
		{`ss2" x`, "ssh-ed25519 AAAA"}, {"ss2 x", "ssh-ed25519 AAAA"}, {"", "ssh-ed25519 AAAA"},
		{"ss2", ""}, {"ss2", "ssh-ed25519 AAAA\nssh-ed25519 BBBB"},
	} {
		if line, err := AuthorizedKey("/usr/bin/xroad-node", c.name, c.key); err == nil {
			t.Errorf("%q %q: written as %q", c.name, c.key, line)
		} else if strings.ContainsRune(err.Error(), '\n') {
			t.Errorf("error spans lines: %q", err)
		}
	}
}
