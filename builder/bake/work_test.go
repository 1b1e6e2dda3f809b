package bake

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xroad-appliance/builder/cache"
	"xroad-appliance/builder/rootfs"
)

// TestStaleWorkIsRemoved leaves the work directory of a build that died
// (mount inside, nobody holding its lock) and one of a live build: the next
// build removes the first, unmounting it, and keeps the second.
func TestStaleWorkIsRemoved(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	cacheRoot := t.TempDir()
	live, releaseLive, err := workDir(context.Background(), cacheRoot)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseLive()
	// What a killed build leaves: its directory with a mount, its lock file
	// held by nobody.
	dead := filepath.Join(cacheRoot, "work", "20240101T000000-dead")
	if err := os.Mkdir(dead, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dead+".lock", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var m rootfs.Mounts
	if err := m.Tmpfs(dead, 0o755); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	next, releaseNext, err := workDir(context.Background(), cacheRoot)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseNext()
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a dead build's work directory is still there: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live build's work directory was removed: %v", err)
	}
	if next == live {
		t.Fatal("two builds share a work directory")
	}
	if mounts, _ := cache.MountsUnder(filepath.Join(cacheRoot, "work")); len(mounts) > 0 {
		t.Errorf("mounts left: %v", mounts)
	}
}

// TestProbeOverlayNamesTheCapability: a work directory overlayfs cannot
// write to (here, read-only) fails the probe with what the runner must
// give; a writable one passes and is left clean.
func TestProbeOverlayNamesTheCapability(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	work := t.TempDir()
	if err := probeOverlay(work); err != nil {
		t.Fatalf("probe on a writable directory: %v", err)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("probe left %v", entries)
	}
	ro := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(ro, "overlay-probe", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var m rootfs.Mounts
	if err := m.Bind(ro, ro, true); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err := probeOverlay(ro)
	if err == nil {
		t.Fatal("probe passed on a read-only directory")
	}
	for _, want := range []string{"needs overlayfs mounts", "CAP_SYS_ADMIN", "--privileged", "mount overlay"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
