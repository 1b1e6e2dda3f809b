package rootfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestCopy(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(src, "l")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := Copy(context.Background(), src, dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dst, "f"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copied file: %v %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(dst, "l")); err != nil || target != "f" {
		t.Fatalf("symlink not kept: %q %v", target, err)
	}
}
