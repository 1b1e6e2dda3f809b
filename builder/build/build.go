// Package build runs an image build: base → package layer → appliance
// layer → one OCI image → the outputs the definition asks for. Base and
// package layers and their compressed blobs are cached by their inputs, so a
// rebuild with only a new xroad-node binary redoes the appliance layer and
// the outputs. Outputs are written beside the output directory and renamed
// into place only when all of them succeeded.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"xroad-appliance/builder/outdir"
	"xroad-appliance/builder/parallel"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"xroad-appliance/builder/appliance"
	"xroad-appliance/builder/base"
	"xroad-appliance/builder/cache"
	"xroad-appliance/builder/definition"
	"xroad-appliance/builder/layer"
	"xroad-appliance/builder/packages"
	"xroad-appliance/builder/progress"
	"xroad-appliance/builder/rootfs"
	"xroad-appliance/builder/secretscan"
)

// Options are one build's settings besides the definition.
type Options struct {
	Definition *definition.Resolved
	// OutDir receives the outputs.
	OutDir string
	// Force replaces an OutDir that is not empty; the old one is moved
	// aside (OUT.old-TIME), never deleted.
	Force bool
	// CacheRoot holds bases, package layers and blobs ("" for cache.Root()).
	CacheRoot string
	// NodeBinary is the xroad-node executable to bake; "" builds it from
	// the checkout that holds the definition file.
	NodeBinary string
	// Version is the builder's version, recorded in a label and linked into
	// an xroad-node built from the checkout.
	Version  string
	Progress progress.Func

	// plant, set by tests only, adds files to the appliance layer's tree
	// after its blob is made: what the secret scan must find.
	plant func(appDir string) error
}

// Result is what a build made; --json prints it.
type Result struct {
	Image           string    `json:"image"`
	Profile         string    `json:"profile"`
	PostgreSQL      string    `json:"postgresql"`
	XRoadVersion    string    `json:"xroadVersion"`
	SourceDateEpoch int64     `json:"sourceDateEpoch"`
	ManifestDigest  string    `json:"manifestDigest"`
	ConfigDigest    string    `json:"configDigest"`
	Layers          []Layer   `json:"layers"`
	Outputs         []Output  `json:"outputs"`
	Packages        int       `json:"packages"`
	OutDir          string    `json:"outDir"`
	MovedAside      string    `json:"movedAside,omitempty"`
	Seconds         float64   `json:"seconds"`
	Base            string    `json:"base"`
	Cache           CacheHits `json:"cache"`
}

// Layer describes one image layer.
type Layer struct {
	Name             string `json:"name"`
	Digest           string `json:"digest"`
	DiffID           string `json:"diffID"`
	Size             int64  `json:"size"`
	UncompressedSize int64  `json:"uncompressedSize"`
}

// Output describes one written output.
type Output struct {
	Kind   string `json:"kind"`
	Path   string `json:"path,omitempty"`
	Ref    string `json:"ref,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

// CacheHits says which cached steps were reused.
type CacheHits struct {
	Base         bool   `json:"base"`
	Packages     bool   `json:"packages"`
	BaseBlob     bool   `json:"baseBlob"`
	PackagesBlob bool   `json:"packagesBlob"`
	BaseKey      string `json:"baseKey"`
	PackagesKey  string `json:"packagesKey"`
}

// Run builds the image and writes its outputs.
func Run(ctx context.Context, o Options) (res *Result, err error) {
	start := time.Now()
	d := o.Definition
	p := o.Progress
	if o.OutDir == "" {
		return nil, errors.New("no output directory")
	}
	out, err := filepath.Abs(o.OutDir)
	if err != nil {
		return nil, err
	}
	state, err := outdir.Inspect(out)
	if err != nil {
		return nil, err
	}
	if state == outdir.Occupied && !o.Force {
		return nil, fmt.Errorf("%s: %w (--force moves it aside)", out, ErrOutExists)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("building an image needs root (chroot, overlayfs mounts, file owners)")
	}
	if o.NodeBinary != "" {
		if fi, err := os.Stat(o.NodeBinary); err != nil {
			return nil, fmt.Errorf("xroad-node binary: %w", err)
		} else if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return nil, fmt.Errorf("xroad-node binary %s is not an executable file", o.NodeBinary)
		}
	}
	cacheRoot, err := cache.ResolveRoot(o.CacheRoot)
	if err != nil {
		return nil, err
	}
	work, release, err := workDir(ctx, cacheRoot)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, release()) }()
	if err := probeOverlay(work); err != nil {
		return nil, err
	}

	nodeBinary := o.NodeBinary
	if nodeBinary == "" {
		done := p.Step("xroad-node: building from the checkout")
		nodeBinary, err = buildNode(ctx, filepath.Dir(d.File()), work, o.Version)
		done(err)
		if err != nil {
			return nil, err
		}
	}

	b, err := base.Get(ctx, cacheRoot, base.SourceOf(d.Base), d.Facts, d.Remove, p)
	if err != nil {
		return nil, err
	}
	repo, err := packages.RepoFor(ctx, d)
	if err != nil {
		return nil, err
	}
	pkgs, err := packages.Build(ctx, cacheRoot, &packages.Spec{
		Facts: d.Facts, Packages: d.Packages, XRoadPackages: d.XRoadPackages, Version: d.Version,
		Repo: repo, BaseRootfs: b.Rootfs, BaseKey: b.Key, Remove: d.Remove,
	}, p)
	if err != nil {
		return nil, err
	}

	res = &Result{
		Image: d.Tag(), Profile: d.Facts.Name, PostgreSQL: d.Facts.PostgreSQLVersion, XRoadVersion: d.Version,
		SourceDateEpoch: d.Epoch.Unix(), Packages: len(pkgs.Manifest), OutDir: out, Base: b.Describe,
		Cache: CacheHits{Base: b.Hit, Packages: pkgs.Hit, BaseKey: b.Key, PackagesKey: pkgs.Key},
	}
	blobs, err := lowerBlobs(ctx, cacheRoot, d, b, pkgs, p, &res.Cache)
	if err != nil {
		return nil, err
	}

	var mounts rootfs.Mounts
	defer func() { err = errors.Join(err, mounts.Close()) }()
	pkgView := filepath.Join(work, "packages-view")
	appDir := filepath.Join(work, "appliance")
	for _, dir := range []string{pkgView, appDir} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
	}
	if err := mounts.Overlay(pkgView, []string{pkgs.Upper, b.Rootfs}, "", ""); err != nil {
		return nil, err
	}
	done := p.Step("appliance layer")
	appBlob, err := applianceLayer(ctx, d, nodeBinary, appDir, pkgView, filepath.Join(work, "appliance-blob"))
	done(err)
	if err != nil {
		return nil, err
	}
	blobs = append(blobs, namedBlob{"appliance", appBlob, "xroad-image: appliance layer (xroad-node, units, profile facts)"})
	if o.plant != nil {
		if err := o.plant(appDir); err != nil {
			return nil, err
		}
	}

	img, err := assemble(d, b, repo, pkgs, blobs, o.Version)
	if err != nil {
		return nil, err
	}
	for _, nb := range blobs {
		res.Layers = append(res.Layers, Layer{Name: nb.name, Digest: nb.blob.Info.Digest.String(), DiffID: nb.blob.Info.DiffID.String(),
			Size: nb.blob.Info.Size, UncompressedSize: nb.blob.Info.UncompressedSize})
	}
	if res.ManifestDigest, res.ConfigDigest, err = digests(img); err != nil {
		return nil, err
	}

	// The whole root as the image's runtime sees it: rootfs tar, disks.
	rootView := filepath.Join(work, "rootfs-view")
	if err := os.Mkdir(rootView, 0o755); err != nil {
		return nil, err
	}
	if err := mounts.Overlay(rootView, []string{appDir, pkgs.Upper, b.Rootfs}, "", ""); err != nil {
		return nil, err
	}
	// Nothing is written while the image holds a secret.
	if err := scanSecrets(ctx, d, rootView, p); err != nil {
		return nil, err
	}
	staging, err := outdir.Stage(out, 0o755, func(stageDir string) error {
		return writeOutputs(ctx, d, img, pkgs.Manifest, rootView, stageDir, out, res, p)
	})
	if err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	if err := writeSummary(filepath.Join(staging, SummaryFile), res); err != nil {
		return nil, errors.Join(err, os.RemoveAll(staging))
	}
	if res.MovedAside, err = outdir.SwapIn(staging, out, state, time.Now()); err != nil {
		return nil, err
	}
	p.Printf("image %s %s in %s", res.Image, res.ManifestDigest, out)
	return res, nil
}

// SecretsError is a build refused because its root file system holds
// per-install secrets; Findings are sorted by path.
type SecretsError struct {
	Findings []secretscan.Finding
}

func (e *SecretsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "secret scan: the image holds %d per-install secret(s); nothing was written "+
		"(add generated files to install.remove of the image definition or the profile):", len(e.Findings))
	for _, f := range e.Findings {
		b.WriteString("\n  " + f.String())
	}
	return b.String()
}

// scanSecrets scans the image's whole root (every layer) for private keys,
// passwords and the per-install files the build removes.
func scanSecrets(ctx context.Context, d *definition.Resolved, root string, p progress.Func) error {
	done := p.Step("secret scan")
	findings, err := secretscan.Scan(ctx, root, secretscan.Options{PerInstall: d.Remove, Empty: d.Facts.Install.Empty})
	if err == nil && len(findings) > 0 {
		err = &SecretsError{Findings: findings}
	}
	done(err)
	return err
}

type namedBlob struct {
	name      string
	blob      *layer.Blob
	createdBy string
}

// lowerBlobs returns the cached blobs of the base and the package layer,
// compressing both at once when neither is cached.
func lowerBlobs(ctx context.Context, cacheRoot string, d *definition.Resolved, b *base.Base, pkgs *packages.Layer, p progress.Func, hits *CacheHits) ([]namedBlob, error) {
	jobs := []struct {
		name, key, dir, createdBy string
		overlay                   bool
		hit                       *bool
	}{
		{"base", b.Key, b.Rootfs, "xroad-image: base " + b.Describe, false, &hits.BaseBlob},
		{"packages", pkgs.Key, pkgs.Upper, "xroad-image: packages " + strings.Join(d.XRoadPackages, " "), true, &hits.PackagesBlob},
	}
	out := make([]namedBlob, len(jobs))
	err := parallel.Do(len(jobs), func(i int) error {
		j := jobs[i]
		blob, hit, err := cachedBlob(ctx, cacheRoot, j.name, j.key, j.dir, layer.Options{Epoch: d.Epoch, Overlay: j.overlay}, p)
		out[i], *j.hit = namedBlob{j.name, blob, j.createdBy}, hit
		return err
	})
	return out, err
}

// layerRecipe changes whenever the way trees become tar streams changes.
const layerRecipe = "layer-2"

// cachedBlob returns the compressed layer of the tree dir (whose own cache
// key is treeKey), making it if needed.
func cachedBlob(ctx context.Context, cacheRoot, name, treeKey, dir string, opts layer.Options, p progress.Func) (*layer.Blob, bool, error) {
	key := cache.NewHasher("layer-blob").
		AddString("recipe", layerRecipe).
		AddString("tree", treeKey).
		AddString("epoch", opts.Epoch.UTC().Format(time.RFC3339)).
		AddString("overlay", fmt.Sprint(opts.Overlay)).
		Sum()
	entry, hit, err := cache.Get(ctx, filepath.Join(cacheRoot, "layers", name+"-"+key), func(ctx context.Context, tmp string) error {
		done := p.Step("layer %s: archiving and compressing", name)
		_, err := layer.WriteBlob(tmp, func(w io.Writer) error {
			cw := p.Count(w, "layer "+name, 10*time.Second)
			defer cw.Stop()
			return layer.WriteTar(ctx, cw, dir, opts)
		})
		done(err)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("layer %s: %w", name, err)
	}
	blob, err := layer.LoadBlob(entry)
	if err != nil {
		return nil, false, fmt.Errorf("layer %s: %w", name, err)
	}
	return blob, hit, nil
}

// applianceLayer writes the appliance files into appDir, reading packaged
// units from the package view, and compresses them into blobDir.
func applianceLayer(ctx context.Context, d *definition.Resolved, nodeBinary, appDir, pkgView, blobDir string) (*layer.Blob, error) {
	readBase := func(p string) ([]byte, error) {
		b, err := rootfs.ReadFile(pkgView, p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // not packaged: the reference copy is used
		}
		return b, err
	}
	if err := appliance.Install(appDir, d.Facts, nodeBinary, readBase); err != nil {
		return nil, fmt.Errorf("appliance layer: %w", err)
	}
	if err := appliance.EnableUnits(appDir, []string{appDir, pkgView}, d.Units.Enable); err != nil {
		return nil, fmt.Errorf("%s: key units.enable: %w", d.File(), err)
	}
	// Everything here was written just now: its time is the epoch, so that
	// the merged root (and disks made from it) is the same on every build.
	if err := rootfs.StampTimes(appDir, d.Epoch); err != nil {
		return nil, err
	}
	if err := os.Mkdir(blobDir, 0o755); err != nil {
		return nil, err
	}
	return layer.WriteBlob(blobDir, func(w io.Writer) error {
		return layer.WriteTar(ctx, w, appDir, layer.Options{Epoch: d.Epoch, RootOwned: true})
	})
}

func digests(img v1.Image) (manifest, config string, err error) {
	m, err := img.Digest()
	if err != nil {
		return "", "", err
	}
	c, err := img.ConfigName()
	if err != nil {
		return "", "", err
	}
	return m.String(), c.String(), nil
}
