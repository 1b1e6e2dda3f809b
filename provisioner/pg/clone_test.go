package pg

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A backup that finished but was not swapped in is used, not taken again;
// the backups older versions kept as .interrupted- are removed; the
// replaced data directory is moved aside.
func TestCloneUsesAFinishedBackup(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "serverconf")
	tmp := data + BackupSuffix
	for _, d := range []string{data, tmp, data + BackupSuffix + ".interrupted-20260101T000000Z"} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(tmp, "PG_VERSION"), []byte("16\n"), 0o600)
	os.WriteFile(tmp+CompleteSuffix, nil, 0o600)
	asked := 0
	c := Clone{DataDir: data, Args: []string{"--no-such-flag"}, // pg_basebackup would fail
		Usable: func(_ context.Context, d string) (bool, error) { asked++; return d == tmp, nil }}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil || asked != 1 {
		t.Fatalf("the finished backup was not swapped in (asked %d): %v", asked, err)
	}
	left, _ := filepath.Glob(data + ".*")
	if len(left) != 1 || filepath.Base(left[0])[:len("serverconf.replaced-")] != "serverconf.replaced-" {
		t.Fatalf("left beside the data directory: %v", left)
	}
}

// A backup without the completion marker is never used.
func TestCloneIgnoresAnUnfinishedBackup(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "serverconf")
	os.MkdirAll(data+BackupSuffix, 0o700)
	c := Clone{DataDir: data, Usable: func(context.Context, string) (bool, error) { return true, nil }}
	if ok, err := c.finished(context.Background(), data+BackupSuffix); ok || err != nil {
		t.Fatalf("finished = %v, %v", ok, err)
	}
	os.WriteFile(data+BackupSuffix+CompleteSuffix, nil, 0o600)
	c.Usable = func(context.Context, string) (bool, error) { return false, nil } // another cluster's
	if ok, err := c.finished(context.Background(), data+BackupSuffix); ok || err != nil {
		t.Fatalf("finished = %v, %v", ok, err)
	}
	if _, err := os.Stat(data + BackupSuffix + CompleteSuffix); !os.IsNotExist(err) {
		t.Fatal("the marker of an unusable backup was kept")
	}
}
