package rootfs

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCompareKernelVersions(t *testing.T) {
	got := []string{"6.1.0-10-amd64", "6.1.0-9-amd64", "6.10.0-1-amd64", "6.1.0-10-cloud-amd64", "5.10.0-28-amd64"}
	slices.SortFunc(got, CompareKernelVersions)
	want := []string{"5.10.0-28-amd64", "6.1.0-9-amd64", "6.1.0-10-amd64", "6.1.0-10-cloud-amd64", "6.10.0-1-amd64"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted %v, want %v", got, want)
	}
}

// TestKernelVersions: every regular file the pattern matches, oldest first;
// the distribution's /boot/vmlinuz link and a directory are no kernels.
func TestKernelVersions(t *testing.T) {
	root := t.TempDir()
	boot := filepath.Join(root, "boot")
	if err := os.MkdirAll(filepath.Join(boot, "vmlinuz-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"6.8.0-151-generic", "6.8.0-60-generic", "6.8.0-151-generic.old-dkms"} {
		if err := os.WriteFile(filepath.Join(boot, "vmlinuz-"+v), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("vmlinuz-6.8.0-151-generic", filepath.Join(boot, "vmlinuz-latest")); err != nil {
		t.Fatal(err)
	}
	got, err := KernelVersions(root, "/boot/vmlinuz-{version}")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"6.8.0-60-generic", "6.8.0-151-generic", "6.8.0-151-generic.old-dkms"}; !slices.Equal(got, want) {
		t.Errorf("versions %v, want %v", got, want)
	}
	if got, err := KernelVersions(t.TempDir(), "/boot/vmlinuz-{version}"); err != nil || len(got) != 0 {
		t.Errorf("no kernel: %v %v", got, err)
	}
}
