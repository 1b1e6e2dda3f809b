package base

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSpecKeyIgnoresOrderAndDuplicates(t *testing.T) {
	a := Spec{Suite: "bookworm", Mirror: "m", Variant: "minbase", Include: []string{"b", "a"}}.normalized()
	b := Spec{Suite: "bookworm", Mirror: "m", Variant: "minbase", Include: []string{"a", "b", "a"}}.normalized()
	if a.key() != b.key() {
		t.Fatal("same package set gave different keys")
	}
	c := Spec{Suite: "bookworm", Mirror: "other", Variant: "minbase", Include: []string{"a", "b"}}.normalized()
	if a.key() == c.key() {
		t.Fatal("mirror is not part of the key")
	}
}

func TestSpecRejectsBadPackageNames(t *testing.T) {
	s := DefaultSpec()
	s.Include = append(s.Include, "evil,--foreign")
	if err := s.normalized().validate(); err == nil {
		t.Fatal("want error for a package name with a comma")
	}
}

// TestBootstrap builds (about 95 s) or reuses the cached base and checks that
// it holds what a node needs and no package caches.
func TestBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and a Debian mirror")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	start := time.Now()
	dir, err := Bootstrap(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("base rootfs %s in %s", dir, time.Since(start).Round(time.Millisecond))

	for _, path := range []string{
		"usr/lib/systemd/systemd",
		"sbin/init",
		"usr/bin/dbus-daemon",
		"usr/lib/postgresql/15/bin/postgres",
		"etc/postgresql/15/main/postgresql.conf", // default cluster kept
		"var/lib/postgresql/15/main/PG_VERSION",
		"usr/sbin/sshd",
		"usr/bin/ssh",
		"usr/bin/rsync",
		"usr/bin/cloud-init",
		"usr/sbin/locale-gen",
		"usr/bin/deb-systemd-helper",
		"usr/sbin/adduser",
		"usr/bin/sudo",
		"usr/bin/curl",
		"usr/bin/gpg",
		"usr/sbin/logrotate",
		"bin/ip",
		"bin/ping",
		"bin/ps",
		"etc/ssl/certs/ca-certificates.crt",
	} {
		if _, err := os.Stat(filepath.Join(dir, path)); err != nil {
			t.Errorf("base lacks %s: %v", path, err)
		}
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "var/cache/apt/archives/*.deb"))
	if len(debs) > 0 {
		t.Errorf("base keeps %d downloaded packages", len(debs))
	}
	lists, _ := filepath.Glob(filepath.Join(dir, "var/lib/apt/lists/*_Packages"))
	if len(lists) > 0 {
		t.Errorf("base keeps package lists: %s", strings.Join(lists, ", "))
	}

	start = time.Now()
	again, err := Bootstrap(ctx, "")
	if err != nil || again != dir {
		t.Fatalf("second Bootstrap = %q, %v; want cached %q", again, err, dir)
	}
	t.Logf("cached base in %s", time.Since(start).Round(time.Millisecond))
}
