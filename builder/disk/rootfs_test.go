package disk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bcache "xroad-appliance/builder/cache"
	broot "xroad-appliance/builder/rootfs"
	"xroad-appliance/test/base"
	"xroad-appliance/test/cache"
)

// bootPackages make the Debian base bootable: the kernel (with
// initramfs-tools, which builds the initrd in its postinst) and
// systemd-boot's EFI binary.
var bootPackages = []string{"linux-image-amd64", "systemd-boot"}

// bootRecipe changes whenever bootableRootfs's steps change.
const bootRecipe = "disk-boot-rootfs-1"

// bootableRootfs returns a cached, shared (read-only) Debian 12 rootfs: the
// test base plus bootPackages from deb.debian.org. Building it takes about
// four minutes, mostly the kernel download and two initramfs runs.
func bootableRootfs(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds a Debian rootfs with a kernel")
	}
	if os.Geteuid() != 0 {
		tb.Skip("needs root for chroot")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	baseDir, err := base.Bootstrap(ctx, "")
	if err != nil {
		tb.Fatal(err)
	}
	root, err := cache.ResolveRoot("")
	if err != nil {
		tb.Fatal(err)
	}
	// The base directory's name carries its own key.
	key := bcache.NewHasher("disk-boot-rootfs").
		AddString("recipe", bootRecipe).
		AddString("base", baseDir).
		AddString("packages", strings.Join(bootPackages, ",")).Sum()
	start := time.Now()
	dir, err := bcache.Ensure(ctx, filepath.Join(root, "disk-rootfs", "bookworm-boot-"+key), func(ctx context.Context, tmp string) error {
		rootfs := filepath.Join(tmp, "rootfs")
		if err := broot.Copy(ctx, baseDir, rootfs); err != nil {
			return err
		}
		return installBootPackages(ctx, rootfs)
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("bootable rootfs ready in %s", time.Since(start).Round(time.Millisecond))
	return filepath.Join(dir, "rootfs")
}

// installBootPackages installs bootPackages in a chroot with service starts
// forbidden, then drops the package lists and downloads again.
func installBootPackages(ctx context.Context, rootfs string) error {
	policy := filepath.Join(rootfs, "usr/sbin/policy-rc.d")
	if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		return err
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive"}
	chroot := func(args ...string) error {
		_, _, err := command(ctx, env, "chroot", append([]string{rootfs}, args...)...)
		return err
	}
	steps := [][]string{
		{"apt-get", "update"},
		append([]string{"apt-get", "install", "-y", "--no-install-recommends"}, bootPackages...),
		{"apt-get", "clean"},
	}
	for _, step := range steps {
		if err := chroot(step...); err != nil {
			return err
		}
	}
	lists, err := filepath.Glob(filepath.Join(rootfs, "var/lib/apt/lists/*_*"))
	if err != nil {
		return err
	}
	for _, l := range lists {
		if err := os.Remove(l); err != nil {
			return err
		}
	}
	if err := os.Remove(policy); err != nil {
		return err
	}
	for _, p := range []string{"boot/vmlinuz-*", "boot/initrd.img-*", strings.TrimPrefix(testBoot.Bootloader, "/")} {
		if m, _ := filepath.Glob(filepath.Join(rootfs, p)); len(m) == 0 {
			return fmt.Errorf("after installing %v the rootfs has no %s", bootPackages, p)
		}
	}
	return nil
}
