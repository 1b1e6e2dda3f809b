// Package base bootstraps the Debian 12 root file system every test node and
// test image starts from, and caches it outside the repository keyed by the
// bootstrap inputs (suite, mirror, variant, package list).
//
// The base is debootstrap's result minus downloaded packages and package
// lists. It keeps what debootstrap and the package scripts made, which is
// per-machine identity an image layer must reset: /etc/machine-id,
// /var/lib/dbus/machine-id, the SSH host keys, /etc/hostname and
// /etc/resolv.conf (both copied from the build host), and the PostgreSQL
// "main" cluster on 5432 (kept on purpose: X-Road keeps its messagelog
// database in the default instance). Services start nowhere during the
// bootstrap; the base's apt source is the mirror it was made from.
package base

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bbase "xroad-appliance/builder/base"
	bcache "xroad-appliance/builder/cache"
	"xroad-appliance/builder/run"
	"xroad-appliance/test/cache"
)

// Spec is what a base rootfs is made from. Every field is part of the cache key.
type Spec struct {
	Suite   string   `json:"suite"`
	Mirror  string   `json:"mirror"`
	Variant string   `json:"variant"`
	Include []string `json:"include"`
}

// recipe changes whenever the steps after debootstrap change, so that an old
// cached base made by other steps is not reused.
const recipe = "base-recipe-1"

// DefaultInclude is what a node needs on top of minbase: systemd as init,
// PostgreSQL 15 (its default cluster "main" on 5432 is kept: X-Road keeps the
// messagelog database there), SSH and rsync for configuration replication,
// cloud-init for first-boot metadata (with locales, whose absence makes its
// locale module fail) and the tools the provisioner and tests call.
//
// debootstrap does not resolve virtual packages: python3-cryptography (for
// cloud-init) needs python3-cffi-backend-api-*, provided only by
// python3-cffi-backend, so that one is named here.
var DefaultInclude = []string{
	"systemd", "systemd-sysv", "dbus",
	"postgresql-15", "postgresql-common",
	"openssh-server", "openssh-client", "rsync",
	"cloud-init", "python3-cffi-backend", "locales",
	"ca-certificates", "gnupg", "iproute2", "logrotate", "sudo", "adduser",
	"procps", "iputils-ping", "curl",
}

// DefaultSpec is Debian 12 minbase with DefaultInclude from deb.debian.org.
func DefaultSpec() Spec {
	return Spec{
		Suite:   "bookworm",
		Mirror:  "http://deb.debian.org/debian",
		Variant: "minbase",
		Include: slices.Clone(DefaultInclude),
	}
}

// Bootstrap returns the cached default base rootfs, building it first if
// needed (about 95 s). cacheRoot "" means cache.Root(). The returned directory
// is shared: copy it (Copy) before changing anything in it.
func Bootstrap(ctx context.Context, cacheRoot string) (string, error) {
	return BootstrapSpec(ctx, cacheRoot, DefaultSpec())
}

// BootstrapSpec is Bootstrap for any Spec.
func BootstrapSpec(ctx context.Context, cacheRoot string, spec Spec) (string, error) {
	spec = spec.normalized()
	if err := spec.validate(); err != nil {
		return "", err
	}
	root, err := cache.ResolveRoot(cacheRoot)
	if err != nil {
		return "", err
	}
	entry := filepath.Join(root, "base", fmt.Sprintf("debian-%s-%s-%s", spec.Suite, spec.Variant, spec.key()))
	dir, err := bcache.Ensure(ctx, entry, func(ctx context.Context, tmp string) error {
		return build(ctx, spec, tmp)
	})
	if err != nil {
		return "", fmt.Errorf("base rootfs: %w", err)
	}
	return filepath.Join(dir, "rootfs"), nil
}

func (s Spec) normalized() Spec {
	s.Include = slices.Clone(s.Include)
	slices.Sort(s.Include)
	s.Include = slices.Compact(s.Include)
	return s
}

func (s Spec) validate() error {
	if s.Suite == "" || s.Mirror == "" || s.Variant == "" {
		return fmt.Errorf("base spec: suite, mirror and variant are required: %+v", s)
	}
	for _, p := range s.Include {
		if p == "" || strings.ContainsAny(p, ", \t\n") {
			return fmt.Errorf("base spec: bad package name %q", p)
		}
	}
	return nil
}

func (s Spec) key() string {
	return bcache.NewHasher("debian-base").
		AddString("recipe", recipe).
		AddString("suite", s.Suite).
		AddString("mirror", s.Mirror).
		AddString("variant", s.Variant).
		AddString("include", strings.Join(s.Include, ",")).
		Sum()
}

// build runs debootstrap into tmp/rootfs, trims what an image must not carry
// and records the spec beside the rootfs.
func build(ctx context.Context, spec Spec, tmp string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("debootstrap needs root")
	}
	if err := run.Need(map[string]string{"debootstrap": "apt-get install debootstrap", "chroot": "apt-get install coreutils"}); err != nil {
		return err
	}
	rootfs := filepath.Join(tmp, "rootfs")
	logFile, err := os.Create(filepath.Join(tmp, "debootstrap.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()

	start := time.Now()
	slog.Info("base: running debootstrap (takes about 95 s)", "suite", spec.Suite, "mirror", spec.Mirror, "log", logFile.Name())
	args := []string{"--variant=" + spec.Variant, "--components=main"}
	if len(spec.Include) > 0 {
		args = append(args, "--include="+strings.Join(spec.Include, ","))
	}
	args = append(args, spec.Suite, rootfs, spec.Mirror)
	if err := (run.Cmd{Log: logFile}).Run(ctx, "debootstrap", args...); err != nil {
		return fmt.Errorf("%w%s", err, bbase.DebootstrapLogTail(rootfs))
	}
	if err := trim(ctx, rootfs); err != nil {
		return err
	}
	meta, err := json.MarshalIndent(struct {
		Spec
		Recipe  string    `json:"recipe"`
		Built   time.Time `json:"built"`
		Seconds float64   `json:"seconds"`
	}{spec, recipe, time.Now().UTC(), time.Since(start).Seconds()}, "", "  ")
	if err != nil {
		return err
	}
	slog.Info("base: rootfs ready", "seconds", int(time.Since(start).Seconds()))
	return os.WriteFile(filepath.Join(tmp, "spec.json"), append(meta, '\n'), 0o644)
}
