// Package packages builds the package layer: the X-Road packages (and
// whatever else the definition asks for) installed on a base root file system
// in a chroot, from the profile's signed repository or a local override,
// without starting services and with the package caches kept outside the
// image. The layer is the overlayfs upper directory of that install, so it
// holds exactly what the install changed; it is cached by the hash of its
// inputs.
package packages

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"xroad-appliance/builder/cache"
	"xroad-appliance/builder/chroot"
	"xroad-appliance/builder/progress"
	"xroad-appliance/builder/rootfs"
	"xroad-appliance/profiles"
)

// recipe changes whenever the steps below change in a way the hashed inputs
// do not show, so that layers made by older steps are not reused.
const recipe = "packages-2"

// Spec is everything the package layer is made from.
type Spec struct {
	Facts *profiles.Facts
	// Packages are installed; XRoadPackages (a subset) carry the version pin.
	Packages, XRoadPackages []string
	// KernelPackages are installed after Packages, named for the kernel
	// they brought: {version} is the version of the newest kernel the
	// profile's disk.kernel matches, the one a disk boots.
	KernelPackages []string
	Version        string
	Repo           *Repo
	// BaseRootfs is the cached base (read-only lower layer), BaseKey its cache key.
	BaseRootfs, BaseKey string
	// Remove is the per-install material removed from the layer after the
	// install (the profile's install.remove and the definition's); the
	// profile's install.empty files are emptied.
	Remove []string
}

// Package is one installed package.
type Package struct {
	Name, Version, Arch string
}

// Layer is a built package layer.
type Layer struct {
	// Upper is the diff against the base: new and changed files, overlayfs
	// whiteouts for removed ones. Shared: never write into it.
	Upper    string
	Manifest []Package
	Key      string
	Hit      bool
}

// manager is one package manager's way of installing into a root.
type manager interface {
	// binds are host directories the install needs in the chroot; pmCache
	// persists between builds, scratch is this build's.
	binds(pmCache, scratch string) []chroot.Bind
	configure(root string, spec *Spec) error
	install(ctx context.Context, s *chroot.Session, spec *Spec, pmCache string) error
	// add installs more packages after install, from the same sources.
	add(ctx context.Context, s *chroot.Session, spec *Spec, pmCache string, pkgs []string) error
	finish(root string, spec *Spec) error
	manifest(ctx context.Context, s *chroot.Session) ([]Package, error)
}

func managerFor(f *profiles.Facts) (manager, error) {
	switch f.PackageManager {
	case "apt":
		return apt{}, nil
	case "dnf", "yum":
		return dnf{tool: f.Bootstrap.Tool}, nil
	}
	return nil, fmt.Errorf("profile %s: no package layer for package manager %q", f.Name, f.PackageManager)
}

// Key is the package layer's cache key.
func (s *Spec) Key() (string, error) {
	facts, err := yaml.Marshal(s.Facts)
	if err != nil {
		return "", err
	}
	content, err := s.Repo.contentKey(s.Facts.XRoad.Repository.Kind)
	if err != nil {
		return "", err
	}
	h := cache.NewHasher("package-layer").
		AddString("recipe", recipe).
		AddString("arch", runtime.GOARCH).
		AddString("base", s.BaseKey).
		Add("facts", facts).
		AddString("packages", strings.Join(s.Packages, ",")).
		AddString("xroad-packages", strings.Join(s.XRoadPackages, ",")).
		AddString("remove", strings.Join(s.Remove, ",")).
		AddString("version", s.Version).
		AddString("repo", s.Repo.Label()).
		AddString("repo-content", content).
		Add("keyring", s.Repo.Keyring).
		AddString("mode", fmt.Sprintf("offline=%v override=%v", s.Repo.Offline, s.Repo.Override))
	// Only when there are any, so that the layers without keep their keys.
	if len(s.KernelPackages) > 0 {
		h.AddString("kernel-packages", strings.Join(s.KernelPackages, ","))
	}
	return h.Sum(), nil
}

// Build returns the package layer for spec, from the cache under cacheRoot
// when one was made from the same inputs. A failed install leaves nothing
// behind: no cache entry, no mounts.
func Build(ctx context.Context, cacheRoot string, spec *Spec, p progress.Func) (*Layer, error) {
	m, err := managerFor(spec.Facts)
	if err != nil {
		return nil, err
	}
	key, err := spec.Key()
	if err != nil {
		return nil, err
	}
	entry := filepath.Join(cacheRoot, "packages", spec.Facts.Name+"-"+key)
	dir, hit, err := cache.Get(ctx, entry, func(ctx context.Context, tmp string) error {
		more := ""
		if len(spec.KernelPackages) > 0 {
			more = fmt.Sprintf(", then %s for the kernel", strings.Join(spec.KernelPackages, " "))
		}
		done := p.Step("packages: installing %d packages from %s%s", len(spec.Packages), spec.Repo.Describe(), more)
		err := build(ctx, cacheRoot, tmp, spec, m)
		done(err)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("package layer: %w", err)
	}
	if hit {
		p.Printf("packages: cached layer %s", filepath.Base(dir))
	}
	l := &Layer{Upper: filepath.Join(dir, "upper"), Key: key, Hit: hit}
	if l.Manifest, err = readManifest(filepath.Join(dir, manifestFile)); err != nil {
		return nil, fmt.Errorf("package layer: %w", err)
	}
	return l, nil
}

const manifestFile = "manifest.json"

func build(ctx context.Context, cacheRoot, tmp string, spec *Spec, m manager) (err error) {
	upper, work, merged := filepath.Join(tmp, "upper"), filepath.Join(tmp, "work"), filepath.Join(tmp, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	var mounts rootfs.Mounts
	if err := mounts.Overlay(merged, []string{spec.BaseRootfs}, upper, work); err != nil {
		return err
	}
	defer func() {
		if cerr := mounts.Close(); err == nil {
			err = cerr
		}
	}()

	// The package manager's caches live outside the image, one set per
	// profile, used by one build at a time.
	pmCache := filepath.Join(cacheRoot, "package-manager", spec.Facts.Name)
	scratch := filepath.Join(tmp, "scratch")
	binds := m.binds(pmCache, scratch)
	for _, b := range binds {
		if err := os.MkdirAll(b.Src, 0o755); err != nil {
			return err
		}
	}
	if spec.Repo.Dir != "" {
		binds = append(binds, chroot.Bind{Src: spec.Repo.Dir, Dst: RepoMountPoint, ReadOnly: true})
	}
	unlock, err := cache.Lock(ctx, pmCache+".lock")
	if err != nil {
		return err
	}
	defer unlock()

	logFile, err := os.Create(filepath.Join(tmp, "install.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	if err := m.configure(merged, spec); err != nil {
		return fmt.Errorf("configure X-Road repository: %w", err)
	}
	s, err := chroot.Open(merged, binds, logFile, installEnv(spec.Facts))
	if err != nil {
		return err
	}
	err = m.install(ctx, s, spec, pmCache)
	if err == nil && len(spec.KernelPackages) > 0 {
		var pkgs []string
		if pkgs, err = kernelPackages(s.Root(), spec); err == nil {
			err = m.add(ctx, s, spec, pmCache, pkgs)
		}
	}
	var manifest []Package
	if err == nil {
		manifest, err = m.manifest(ctx, s)
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	slices.SortFunc(manifest, func(a, b Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Arch, b.Arch))
	})
	if err := m.finish(merged, spec); err != nil {
		return err
	}
	// Package scripts may have made host keys or a machine id, keys,
	// certificates and passwords: every node makes its own.
	if err := rootfs.ResetIdentity(merged); err != nil {
		return err
	}
	removed, err := rootfs.RemovePerInstall(merged, spec.Remove, spec.Facts.Install.Empty)
	if err != nil {
		return err
	}
	fmt.Fprintf(logFile, "per-install material removed: %s\n", strings.Join(removed, " "))
	if err := mounts.Close(); err != nil {
		return err
	}
	for _, d := range []string{work, merged, scratch} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return writeManifest(filepath.Join(tmp, manifestFile), manifest)
}

// kernelPackages spells the packages named for the kernel for the
// newest kernel the install left: the one a disk of the image boots.
func kernelPackages(root string, spec *Spec) ([]string, error) {
	versions, err := rootfs.KernelVersions(root, spec.Facts.Disk.Kernel)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("install %s: no kernel %s in the image (profile key disk.packages)",
			strings.Join(spec.KernelPackages, " "), spec.Facts.Disk.Kernel)
	}
	v := versions[len(versions)-1]
	var pkgs []string
	for _, p := range spec.KernelPackages {
		pkgs = append(pkgs, strings.ReplaceAll(p, "{version}", v))
	}
	return pkgs, nil
}

// installEnv is the profile's install environment as NAME=VALUE, sorted.
func installEnv(f *profiles.Facts) []string {
	var env []string
	for k, v := range f.Install.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}

func writeManifest(path string, pkgs []Package) error {
	b, err := json.MarshalIndent(pkgs, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readManifest(path string) ([]Package, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pkgs []Package
	if err := json.Unmarshal(b, &pkgs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pkgs, nil
}

// ManifestText is the package manifest as the image carries it: one
// "name version architecture" line per installed package, sorted by name.
func ManifestText(pkgs []Package) string {
	var b strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&b, "%s %s %s\n", p.Name, p.Version, p.Arch)
	}
	return b.String()
}
