// Package nodeimage makes the image that booted-node tests and the demo run:
// images/securityserver.yaml built by xroad-image's own builder exactly as
// an operator would, from its debootstrap base, with the signed fixture
// X-Road repository in place of the unreachable X-Road one and xroad-node
// from this checkout; its rootfs.tar is unpacked for nodes to mount. The
// builder's cache keeps the base and package layers, so only the appliance
// layer is made again when the checkout changes.
package nodeimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"xroad-appliance/builder/bake"
	bcache "xroad-appliance/builder/cache"
	"xroad-appliance/builder/definition"
	"xroad-appliance/builder/progress"
	"xroad-appliance/test/cache"
	"xroad-appliance/test/fixtures"
)

// DefaultProfile is the profile the image is built for and Version the
// fixture X-Road version it carries, unless Options say otherwise.
const (
	DefaultProfile = "ubuntu-24.04"
	Version        = "7.8.0-1"
)

// Options tune Build; the zero value is the tests' choice.
type Options struct {
	// CacheRoot holds the fixture repository and the builder's cache (""
	// for cache.Root()).
	CacheRoot string
	// Version is the fixture X-Road version the image carries ("" for
	// Version).
	Version string
	// Profile is the OS profile ("" for DefaultProfile).
	Profile string
	// Outputs are made besides the root file system tar and the package
	// manifest (a disk, say).
	Outputs []string
	// Image names the definition in images/ ("" for securityserver), or
	// is the path of one.
	Image    string
	Progress progress.Func
}

// Image is a built image unpacked for booting.
type Image struct {
	Rootfs string       // the unpacked root file system
	Build  *bake.Result // what the builder reported
}

// Output is the path of the output of kind, "" if none was made.
func (i *Image) Output(kind string) string {
	for _, o := range i.Build.Outputs {
		if o.Kind == kind {
			return o.Path
		}
	}
	return ""
}

// Definition is the path of images/securityserver.yaml in this checkout.
func Definition() string { return definitionOf("securityserver") }

func definitionOf(image string) string {
	if strings.HasSuffix(image, ".yaml") {
		return image
	}
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "../../images/"+image+".yaml")
}

// Resolve is the image definition Build builds, and the builder cache it
// uses.
func Resolve(ctx context.Context, o Options) (*definition.Resolved, string, error) {
	root, err := cache.ResolveRoot(o.CacheRoot)
	if err != nil {
		return nil, "", err
	}
	if o.Version == "" {
		o.Version = Version
	}
	if o.Profile == "" {
		o.Profile = DefaultProfile
	}
	repo, err := fixtures.BuildRepo(ctx, root, o.Version)
	if err != nil {
		return nil, "", err
	}
	if o.Image == "" {
		o.Image = "securityserver"
	}
	d, err := definition.Load(definitionOf(o.Image))
	if err != nil {
		return nil, "", err
	}
	if err := d.Apply(definition.Overrides{Profile: o.Profile,
		Outputs: append([]string{"rootfs-tar", "package-manifest"}, o.Outputs...), RepoDir: repo.Dir, RepoKeyring: repo.Keyring,
		Suite: fixtures.Suite}); err != nil {
		return nil, "", err
	}
	resolved, err := d.Resolve()
	if err != nil {
		return nil, "", err
	}
	return resolved, filepath.Join(root, "xroad-image"), nil
}

// Build builds the image with its outputs into outDir and unpacks the root
// file system into outDir/rootfs.
func Build(ctx context.Context, outDir string, o Options) (*Image, error) {
	resolved, cacheRoot, err := Resolve(ctx, o)
	if err != nil {
		return nil, err
	}
	// Both directories are this function's own from an earlier call.
	images, rootfs := filepath.Join(outDir, "image"), filepath.Join(outDir, "rootfs")
	for _, dir := range []string{images, rootfs} {
		if err := bcache.RemoveTree(dir); err != nil {
			return nil, err
		}
	}
	res, err := bake.Run(ctx, bake.Options{Definition: resolved, OutDir: images,
		CacheRoot: cacheRoot, Version: "test", Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, err
	}
	tarball := filepath.Join(images, "rootfs.tar")
	if out, err := exec.CommandContext(ctx, "tar", "--numeric-owner", "-xpf", tarball, "-C", rootfs).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("unpack %s: %v\n%s", tarball, err, out)
	}
	return &Image{Rootfs: rootfs, Build: res}, nil
}
