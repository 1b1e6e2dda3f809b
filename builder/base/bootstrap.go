package base

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"xroad-appliance/builder/cache"
	"xroad-appliance/builder/chroot"
	"xroad-appliance/builder/keyring"
	"xroad-appliance/builder/rootfs"
	"xroad-appliance/builder/run"
	"xroad-appliance/profiles"
)

// bootstrap makes a base with the profile's bootstrap tool.
type bootstrap struct {
	profile   string
	facts     profiles.Bootstrap
	cacheRoot string
}

func (b *bootstrap) key(context.Context) (string, string, error) {
	f := b.facts
	if f.Tool != "debootstrap" && f.Tool != "dnf" {
		return "", "", fmt.Errorf("profile %s: key bootstrap.tool: unknown tool %q (debootstrap, dnf)", b.profile, f.Tool)
	}
	h := cache.NewHasher("bootstrap").
		AddString("tool", f.Tool).
		AddString("suite", f.Suite).
		AddString("mirror", f.Mirror).
		AddString("include", join(sortedUnique(f.Include))).
		AddString("arch", runtime.GOARCH).
		AddString("script", f.Script).
		AddString("components", join(f.Components))
	for _, s := range f.Sources {
		h.AddString("source", s.URI+" "+join(s.Suites))
	}
	if k := f.Keyring; k != nil {
		h.AddString("keyring", strings.Join([]string{k.Package, k.File, k.HostFile, join(k.Fingerprints), k.Path}, " "))
	}
	return h.Sum(), fmt.Sprintf("%s %s %s", f.Tool, f.Suite, f.Mirror), nil
}

func (b *bootstrap) fill(ctx context.Context, root, logPath string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("bootstrapping a root file system needs root")
	}
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	f := b.facts
	switch f.Tool {
	case "debootstrap":
		scratch, err := os.MkdirTemp("", "xroad-image-bootstrap-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(scratch)
		return b.debootstrap(ctx, root, scratch, log)
	default:
		if err := run.Need(map[string]string{f.Tool: "a RHEL build host with dnf and the distribution's repositories enabled"}); err != nil {
			return err
		}
		argv := dnfCommand(f, root, filepath.Join(b.cacheRoot, "package-manager", b.profile, "cache"))
		return (run.Cmd{Log: log}).Run(ctx, argv[0], argv[1:]...)
	}
}

// debootstrapScripts is where debootstrap keeps its per-suite scripts.
const debootstrapScripts = "/usr/share/debootstrap/scripts"

// debootstrap makes a minimal system verified with the profile's pinned
// archive keys, points apt at the profile's sources (signed-by the same
// keys), then installs the profile's packages and the pockets' updates
// with apt.
func (b *bootstrap) debootstrap(ctx context.Context, root, scratch string, log io.Writer) error {
	f := b.facts
	if err := run.Need(map[string]string{"debootstrap": "apt-get install debootstrap", "gpg": "apt-get install gnupg",
		"dpkg-deb": "apt-get install dpkg"}); err != nil {
		return err
	}
	script := filepath.Join(debootstrapScripts, f.Script)
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("profile %s: key bootstrap.script: this host's debootstrap has no script %q for suite %s (%s)",
			b.profile, f.Script, f.Suite, script)
	}
	keys, err := b.archiveKeys(ctx, scratch)
	if err != nil {
		return err
	}
	keyFile := filepath.Join(scratch, "archive-keyring.gpg")
	if err := os.WriteFile(keyFile, keys, 0o644); err != nil {
		return err
	}
	argv := debootstrapCommand(f, root, keyFile, script)
	if err := (run.Cmd{Log: log}).Run(ctx, argv[0], argv[1:]...); err != nil {
		return b.debootstrapFailed(err, root)
	}
	if err := b.writeSources(root, keys); err != nil {
		return err
	}
	return aptInstall(ctx, root, sortedUnique(f.Include), log)
}

// debootstrapCommand makes a minimal system from the profile's suite and
// mirror, checked with keyFile. The profile's base packages are installed
// afterwards with apt, which resolves virtual packages that debootstrap's
// --include cannot.
func debootstrapCommand(f profiles.Bootstrap, root, keyFile, script string) []string {
	return []string{"debootstrap", "--variant=minbase", "--components=" + join(f.Components),
		"--keyring=" + keyFile, f.Suite, root, f.Mirror, script}
}

// debootstrapFailed says in the profile's terms why debootstrap stopped.
func (b *bootstrap) debootstrapFailed(err error, root string) error {
	f := b.facts
	tail := DebootstrapLogTail(root)
	text := err.Error() + tail
	switch {
	case strings.Contains(text, "Release signed by unknown key") || strings.Contains(text, "Invalid Release signature") ||
		strings.Contains(text, "Invalid Release file"):
		return fmt.Errorf("profile %s: key bootstrap.keyring.fingerprints: the Release file of %s at %s is not signed by the pinned %s: %w%s",
			b.profile, f.Suite, f.Mirror, join(f.Keyring.Fingerprints), err, tail)
	case strings.Contains(text, "Failed getting release file") || strings.Contains(text, "Couldn't download"):
		return fmt.Errorf("profile %s: key bootstrap.mirror: %s does not answer for %s: %w%s", b.profile, f.Mirror, f.Suite, err, tail)
	}
	return fmt.Errorf("%w%s", err, tail)
}

// archiveKeys is the profile's archive keyring cut down to its pinned keys.
func (b *bootstrap) archiveKeys(ctx context.Context, scratch string) ([]byte, error) {
	k := b.facts.Keyring
	var data []byte
	var from string
	var err error
	if k.HostFile != "" {
		from = k.HostFile
		data, err = os.ReadFile(k.HostFile)
	} else {
		from = b.facts.Mirror + "/" + k.Package
		data, err = keyringFromPackage(ctx, from, k.File, scratch)
	}
	if errors.Is(err, keyring.ErrUnreachable) {
		return nil, fmt.Errorf("profile %s: key bootstrap.mirror: %s does not answer (fetching the keyring package %s): %w",
			b.profile, b.facts.Mirror, k.Package, err)
	}
	if err != nil {
		return nil, fmt.Errorf("profile %s: key bootstrap.keyring: %s: %w", b.profile, from, err)
	}
	keys, err := keyring.Pinned(ctx, data, k.Fingerprints)
	if err != nil {
		return nil, fmt.Errorf("profile %s: key bootstrap.keyring.fingerprints: %s: %w", b.profile, from, err)
	}
	return keys, nil
}

// keyringFromPackage downloads a keyring package and reads file from it.
// The package itself is not trusted: only the keys pinned by fingerprint
// are taken from what it holds.
func keyringFromPackage(ctx context.Context, url, file, scratch string) ([]byte, error) {
	deb := filepath.Join(scratch, path.Base(url))
	data, err := keyring.Fetch(ctx, url, 16<<20)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(deb, data, 0o644); err != nil {
		return nil, err
	}
	unpacked := filepath.Join(scratch, "keyring-package")
	if _, err := (run.Cmd{Clean: true}).Output(ctx, "dpkg-deb", "-x", deb, unpacked); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(unpacked, filepath.FromSlash(file)))
}

// writeSources stores the pinned keys in the image and makes the profile's
// sources the image's only apt sources, each verified with those keys.
func (b *bootstrap) writeSources(root string, keys []byte) error {
	f := b.facts
	var lines strings.Builder
	lines.WriteString("# Generated by xroad-image: the distribution's archive, verified with the pinned keys.\n")
	for _, s := range f.Sources {
		for _, suite := range s.Suites {
			fmt.Fprintf(&lines, "deb [signed-by=%s] %s %s %s\n", f.Keyring.Path, s.URI, suite, strings.Join(f.Components, " "))
		}
	}
	if err := rootfs.WriteFile(root, f.Keyring.Path, keys, 0o644); err != nil {
		return err
	}
	return rootfs.WriteFile(root, "/etc/apt/sources.list", []byte(lines.String()), 0o644)
}

// dnfCommand installs the profile's base packages into an empty root from
// the build host's repositories for release f.Suite; signatures are checked
// and the downloaded packages stay in cacheDir, outside the image.
func dnfCommand(f profiles.Bootstrap, root, cacheDir string) []string {
	return append([]string{f.Tool, "-y",
		"--installroot=" + root,
		"--releasever=" + f.Suite,
		"--setopt=install_weak_deps=False",
		"--setopt=tsflags=nodocs",
		"--setopt=gpgcheck=1",
		"--setopt=cachedir=" + cacheDir,
		"--setopt=keepcache=True",
		"install",
	}, sortedUnique(f.Include)...)
}

// DebootstrapLogTail returns the end of debootstrap's own log, which names
// the package that failed when the console output does not.
func DebootstrapLogTail(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "debootstrap", "debootstrap.log"))
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return "\ndebootstrap.log:\n" + string(b)
}

// aptBootstrapEnv keeps apt and debconf from asking while a base is made
// (the package layer takes the profile's install.env instead).
var aptBootstrapEnv = []string{"DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true"}

// aptInstall brings root up to date with the sources it already has (a
// fresh debootstrap's release with its update and security pockets) and
// installs pkgs, in the same chroot as the package layer, then
// drops the downloaded packages. Bootstrapping resolves
// dependencies with apt rather than debootstrap's --include, which cannot
// pick a provider of a virtual package.
func aptInstall(ctx context.Context, root string, pkgs []string, log io.Writer) (err error) {
	s, err := chroot.Open(root, nil, log, aptBootstrapEnv)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	opts := []string{"-q", "-o", "Dpkg::Use-Pty=0"}
	if _, err := s.Run(ctx, slices.Concat([]string{"apt-get"}, opts, []string{"update", "--error-on=any"})...); err != nil {
		return err
	}
	if _, err := s.Run(ctx, slices.Concat([]string{"apt-get"}, opts, []string{"dist-upgrade", "-y"})...); err != nil {
		return err
	}
	if _, err := s.Run(ctx, slices.Concat([]string{"apt-get"}, opts, []string{"install", "-y", "--no-install-recommends"}, pkgs)...); err != nil {
		return err
	}
	_, err = s.Run(ctx, "apt-get", "clean")
	return err
}
