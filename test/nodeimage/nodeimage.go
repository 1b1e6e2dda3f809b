// Package nodeimage makes the root filesystem that booted-node tests run: the
// cached Debian 12 base with the fixture X-Road packages installed from their
// signed repository (the package layer, cached by its inputs) and, in a
// separate small directory, the appliance layer with the xroad-node binary
// built from this checkout. Nodes mount both as overlayfs lower layers, so a
// changed binary never rebuilds the package layer.
package nodeimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"xroad-appliance/builder/appliance"
	"xroad-appliance/profiles"
	"xroad-appliance/test/base"
	"xroad-appliance/test/cache"
	"xroad-appliance/test/fixtures"
	"xroad-appliance/test/internal/run"
)

// Profile is the profile the test image is made for.
const Profile = "debian-12"

// recipe changes whenever the package-layer steps below change.
const recipe = "nodeimage-packages-4"

// PackageLayer returns the cached rootfs of base + X-Road fixture packages of
// version, building it if needed. It is shared: never write into it.
func PackageLayer(ctx context.Context, cacheRoot, version string) (string, error) {
	root, err := cache.ResolveRoot(cacheRoot)
	if err != nil {
		return "", err
	}
	baseDir, err := base.Bootstrap(ctx, root)
	if err != nil {
		return "", err
	}
	repo, err := fixtures.BuildRepo(ctx, root, version)
	if err != nil {
		return "", err
	}
	key := cache.NewHasher("nodeimage").
		AddString("recipe", recipe).
		AddString("base", baseDir).
		AddString("repo", repo.Dir).Sum()
	entry := filepath.Join(root, "nodeimage", "securityserver-"+version+"-"+key)
	dir, err := cache.Ensure(ctx, entry, func(ctx context.Context, tmp string) error {
		rootfs := filepath.Join(tmp, "rootfs")
		if err := base.Copy(ctx, baseDir, rootfs); err != nil {
			return err
		}
		return installPackages(ctx, rootfs, repo)
	})
	if err != nil {
		return "", fmt.Errorf("node image package layer: %w", err)
	}
	return filepath.Join(dir, "rootfs"), nil
}

// installPackages installs xroad-securityserver with service starts forbidden
// (policy-rc.d, as in an image build), then strips what must differ per node.
func installPackages(ctx context.Context, rootfs string, repo *fixtures.Repo) error {
	policy := filepath.Join(rootfs, "usr/sbin/policy-rc.d")
	if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		return err
	}
	if _, err := repo.AddToRootfs(ctx, rootfs); err != nil {
		return err
	}
	chroot := run.Cmd{Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"}}
	onlyXroad := []string{
		"-o", "Dir::Etc::sourcelist=" + strings.TrimPrefix(fixtures.RootfsListFile, "/etc/apt/"),
		"-o", "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0",
	}
	if err := chroot.Run(ctx, "chroot", append(append([]string{rootfs, "apt-get"}, onlyXroad...), "update")...); err != nil {
		return err
	}
	if err := chroot.Run(ctx, "chroot", append(append([]string{rootfs, "apt-get"}, onlyXroad...),
		"install", "-y", "--no-install-recommends", "xroad-securityserver")...); err != nil {
		return err
	}
	if err := chroot.Run(ctx, "chroot", rootfs, "apt-get", "clean"); err != nil {
		return err
	}
	if err := os.Remove(policy); err != nil {
		return err
	}
	return perNodeReset(rootfs)
}

// perNodeReset removes identity the bootstrap host left behind: every node
// gets its own machine id at boot, its own SSH host keys from cloud-init, its
// hostname from meta-data. networkd configures host0 from the file the
// harness writes, standing in for a cloud's network.
func perNodeReset(rootfs string) error {
	if err := os.WriteFile(filepath.Join(rootfs, "etc/machine-id"), nil, 0o444); err != nil {
		return err
	}
	os.Remove(filepath.Join(rootfs, "var/lib/dbus/machine-id"))
	keys, _ := filepath.Glob(filepath.Join(rootfs, "etc/ssh/ssh_host_*"))
	for _, k := range keys {
		if err := os.Remove(k); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc/hostname"), []byte("localhost\n"), 0o644); err != nil {
		return err
	}
	links := map[string]string{
		"etc/systemd/system/multi-user.target.wants/systemd-networkd.service":                 "/lib/systemd/system/systemd-networkd.service",
		"etc/systemd/system/sockets.target.wants/systemd-networkd.socket":                     "/lib/systemd/system/systemd-networkd.socket",
		"etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service": "/lib/systemd/system/systemd-networkd-wait-online.service",
		"etc/systemd/system/dbus-org.freedesktop.network1.service":                            "/lib/systemd/system/systemd-networkd.service",
	}
	for link, target := range links {
		p := filepath.Join(rootfs, link)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			return err
		}
	}
	return nil
}

// ApplianceLayer builds xroad-node from this checkout and writes the
// appliance layer for the test profile into dir.
func ApplianceLayer(ctx context.Context, dir string) error {
	facts, err := profiles.Resolve(Profile, "")
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, ".xroad-node.build")
	modRoot, err := run.Cmd{}.Output(ctx, "go", "list", "-m", "-f", "{{.Dir}}")
	if err != nil {
		return err
	}
	build := run.Cmd{Dir: strings.TrimSpace(string(modRoot)), Env: []string{"CGO_ENABLED=0"}}
	if err := build.Run(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/xroad-node"); err != nil {
		return err
	}
	defer os.Remove(bin)
	return appliance.Install(dir, facts, bin, nil)
}
