package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteReplacesWithModeAndLeavesNoTemporary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	if err := Write(path, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "new" || st.Mode().Perm() != 0o644 {
		t.Errorf("content %q mode %v", got, st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestWriteIntoMissingDirectoryFails(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "no", "file"), nil, 0o644); err == nil {
		t.Error("wrote into a missing directory")
	}
}

func TestCopy(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(src, []byte("binary"), 0o600)
	if err := Copy(src, dst, 0o755); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(dst)
	if got, _ := os.ReadFile(dst); string(got) != "binary" || st.Mode().Perm() != 0o755 {
		t.Errorf("content %q mode %v", got, st.Mode().Perm())
	}
}
