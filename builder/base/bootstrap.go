package base

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"xroad-appliance/builder/cache"
	"xroad-appliance/builder/packages"
	"xroad-appliance/builder/run"
	"xroad-appliance/profiles"
)

// bootstrap makes a base with the profile's bootstrap tool.
type bootstrap struct {
	facts     *profiles.Facts
	cacheRoot string
}

func (b *bootstrap) key(context.Context) (string, string, error) {
	f := b.facts.Bootstrap
	if f.Tool != "debootstrap" && f.Tool != "dnf" {
		return "", "", fmt.Errorf("profile %s: key bootstrap.tool: unknown tool %q (debootstrap, dnf)", b.facts.Name, f.Tool)
	}
	key := cache.NewHasher("bootstrap").
		AddString("tool", f.Tool).
		AddString("suite", f.Suite).
		AddString("mirror", f.Mirror).
		AddString("include", join(sortedUnique(f.Include))).
		AddString("arch", runtime.GOARCH).
		Sum()
	return key, fmt.Sprintf("%s %s %s", f.Tool, f.Suite, f.Mirror), nil
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
	f := b.facts.Bootstrap
	switch f.Tool {
	case "debootstrap":
		if err := run.Need(map[string]string{"debootstrap": "apt-get install debootstrap"}); err != nil {
			return err
		}
		argv := debootstrapCommand(f, root)
		if err := (run.Cmd{Log: log}).Run(ctx, argv[0], argv[1:]...); err != nil {
			return fmt.Errorf("%w%s", err, DebootstrapLogTail(root))
		}
		return packages.AptInstall(ctx, root, sortedUnique(f.Include), log)
	default:
		if err := run.Need(map[string]string{f.Tool: "a RHEL build host with dnf and the distribution's repositories enabled"}); err != nil {
			return err
		}
		argv := dnfCommand(f, root, filepath.Join(b.cacheRoot, "package-manager", b.facts.Name, "cache"))
		return (run.Cmd{Log: log}).Run(ctx, argv[0], argv[1:]...)
	}
}

// debootstrapCommand makes a minimal system from the profile's suite and
// mirror. The profile's base packages are installed afterwards with apt,
// which resolves virtual packages that debootstrap's --include cannot.
func debootstrapCommand(f profiles.Bootstrap, root string) []string {
	return []string{"debootstrap", "--variant=minbase", "--components=main", f.Suite, root, f.Mirror}
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
