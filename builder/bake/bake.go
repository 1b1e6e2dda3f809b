// Package bake runs an image build: base → package layer → appliance
// layer → one OCI image → the outputs the definition asks for. Base and
// package layers and their compressed blobs are cached by their inputs, so a
// rebuild with only a new xroad-node binary redoes the appliance layer and
// the outputs. Outputs are written beside the output directory and renamed
// into place only when all of them succeeded.
package bake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"xroad-appliance/builder/appliance"
	"xroad-appliance/builder/outdir"
	"xroad-appliance/builder/parallel"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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

// Run builds the image and writes its outputs: a short sequence of stages,
// each given only its own input (see inputs).
func Run(ctx context.Context, o Options) (res *Result, err error) {
	start := time.Now()
	p := o.Progress
	out, state, err := o.check()
	if err != nil {
		return nil, err
	}
	ws, err := openWorkspace(ctx, o.CacheRoot)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, ws.close()) }()
	in := inputsOf(o.Definition, o.Version)

	nodeBinary, err := o.nodeBinaryIn(ctx, ws.dir)
	if err != nil {
		return nil, err
	}
	low, err := lowerLayers(ctx, ws.cacheRoot, in, p)
	if err != nil {
		return nil, err
	}
	res = in.result.with(out, low)
	app, err := applianceLayer(ctx, ws, in.appliance, nodeBinary, low, p)
	if err != nil {
		return nil, err
	}
	if o.plant != nil {
		if err := o.plant(app.dir); err != nil {
			return nil, err
		}
	}
	blobs := append(low.blobs, app.blob)
	img, err := assemble(in.image, low, blobs)
	if err != nil {
		return nil, err
	}
	if err := res.describeImage(img, blobs); err != nil {
		return nil, err
	}
	// The whole root as the image's runtime sees it: rootfs tar, disks.
	rootView, err := ws.overlay("rootfs-view", app.dir, low.packages.Upper, low.base.Rootfs)
	if err != nil {
		return nil, err
	}
	// Nothing is written while the image holds a secret.
	if err := scanSecrets(ctx, in.scan, rootView, p); err != nil {
		return nil, err
	}
	staging, err := outdir.Stage(out, 0o755, func(stageDir string) error {
		return writeOutputs(ctx, in.outputs, img, low.packages.Manifest, rootView, stageDir, out, res, p)
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

// check refuses what no build can start with (no output directory, an
// occupied one without Force, no root, a node binary that is not one) and
// returns the absolute output directory and what it holds.
func (o *Options) check() (string, outdir.State, error) {
	if o.OutDir == "" {
		return "", 0, errors.New("no output directory")
	}
	out, err := filepath.Abs(o.OutDir)
	if err != nil {
		return "", 0, err
	}
	state, err := outdir.Inspect(out)
	if err != nil {
		return "", 0, err
	}
	if state == outdir.Occupied && !o.Force {
		return "", 0, fmt.Errorf("%s: %w (--force moves it aside)", out, outdir.ErrNotEmpty)
	}
	if os.Geteuid() != 0 {
		return "", 0, errors.New("building an image needs root (chroot, overlayfs mounts, file owners)")
	}
	if o.NodeBinary != "" {
		if fi, err := os.Stat(o.NodeBinary); err != nil {
			return "", 0, fmt.Errorf("xroad-node binary: %w", err)
		} else if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return "", 0, fmt.Errorf("xroad-node binary %s is not an executable file", o.NodeBinary)
		}
	}
	return out, state, nil
}

// nodeBinaryIn is the xroad-node to bake: the one given, or one built into
// work from the checkout that holds the definition file.
func (o *Options) nodeBinaryIn(ctx context.Context, work string) (string, error) {
	if o.NodeBinary != "" {
		return o.NodeBinary, nil
	}
	done := o.Progress.Step("xroad-node: building from the checkout")
	bin, err := buildNode(ctx, filepath.Dir(o.Definition.File()), work, o.Version)
	done(err)
	return bin, err
}

// with is the result of a build into out from the lower layers low, before
// the image exists.
func (r Result) with(out string, low *lower) *Result {
	r.OutDir = out
	r.Packages = len(low.packages.Manifest)
	r.Base = low.base.Describe
	r.Cache = low.hits
	return &r
}

// describeImage records the image's layers and digests.
func (r *Result) describeImage(img v1.Image, blobs []namedBlob) error {
	for _, nb := range blobs {
		r.Layers = append(r.Layers, Layer{Name: nb.name, Digest: nb.blob.Info.Digest.String(), DiffID: nb.blob.Info.DiffID.String(),
			Size: nb.blob.Info.Size, UncompressedSize: nb.blob.Info.UncompressedSize})
	}
	var err error
	r.ManifestDigest, r.ConfigDigest, err = digests(img)
	return err
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
func scanSecrets(ctx context.Context, opts secretscan.Options, root string, p progress.Func) error {
	done := p.Step("secret scan")
	findings, err := secretscan.Scan(ctx, root, opts)
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

// lower is the base and the package layer, with their compressed blobs.
type lower struct {
	base     *base.Base
	repo     *packages.Repo
	packages *packages.Layer
	blobs    []namedBlob
	hits     CacheHits
}

// lowerLayers gets the base and the package layer on it, from the cache
// when their inputs were built before, and then their blobs.
func lowerLayers(ctx context.Context, cacheRoot string, in *inputs, p progress.Func) (*lower, error) {
	b, err := base.Get(ctx, cacheRoot, in.base, p)
	if err != nil {
		return nil, err
	}
	repo, err := packages.RepoFor(ctx, in.repo.profile, in.repo.version, in.repo.override)
	if err != nil {
		return nil, err
	}
	pkgs, err := packages.Build(ctx, cacheRoot, in.packagesOn(b, repo), p)
	if err != nil {
		return nil, err
	}
	l := &lower{base: b, repo: repo, packages: pkgs,
		hits: CacheHits{Base: b.Hit, Packages: pkgs.Hit, BaseKey: b.Key, PackagesKey: pkgs.Key}}
	if l.blobs, err = l.compress(ctx, cacheRoot, in.blobs, p); err != nil {
		return nil, err
	}
	return l, nil
}

// compress returns the cached blobs of the base and the package layer,
// compressing both at once when neither is cached.
func (l *lower) compress(ctx context.Context, cacheRoot string, in blobsInput, p progress.Func) ([]namedBlob, error) {
	jobs := []struct {
		name, key, dir, createdBy string
		overlay                   bool
		hit                       *bool
	}{
		{"base", l.base.Key, l.base.Rootfs, "xroad-image: base " + l.base.Describe, false, &l.hits.BaseBlob},
		{"packages", l.packages.Key, l.packages.Upper, "xroad-image: packages " + strings.Join(in.xroadPackages, " "), true, &l.hits.PackagesBlob},
	}
	out := make([]namedBlob, len(jobs))
	err := parallel.Do(len(jobs), func(i int) error {
		j := jobs[i]
		blob, hit, err := cachedBlob(ctx, cacheRoot, j.name, j.key, j.dir, layer.Options{Epoch: in.epoch, Overlay: j.overlay}, p)
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

// appLayer is the appliance layer: its tree and its blob.
type appLayer struct {
	dir  string
	blob namedBlob
}

// applianceLayer writes the appliance files into the workspace, reading
// packaged units from the package layer over the base, and compresses them.
func applianceLayer(ctx context.Context, ws *workspace, in applianceInput, nodeBinary string, low *lower, p progress.Func) (*appLayer, error) {
	pkgView, err := ws.overlay("packages-view", low.packages.Upper, low.base.Rootfs)
	if err != nil {
		return nil, err
	}
	appDir, err := ws.mkdir("appliance")
	if err != nil {
		return nil, err
	}
	done := p.Step("appliance layer")
	blob, err := writeAppliance(ctx, in, nodeBinary, appDir, pkgView, filepath.Join(ws.dir, "appliance-blob"))
	done(err)
	if err != nil {
		return nil, err
	}
	return &appLayer{dir: appDir, blob: namedBlob{"appliance", blob, "xroad-image: appliance layer (xroad-node, units, profile facts)"}}, nil
}

// writeAppliance writes the appliance files into appDir and compresses
// them into blobDir.
func writeAppliance(ctx context.Context, in applianceInput, nodeBinary, appDir, pkgView, blobDir string) (*layer.Blob, error) {
	readBase := func(p string) ([]byte, error) {
		b, err := rootfs.ReadFile(pkgView, p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // not packaged: the reference copy is used
		}
		return b, err
	}
	if err := appliance.Install(appDir, in.facts, nodeBinary, readBase); err != nil {
		return nil, fmt.Errorf("appliance layer: %w", err)
	}
	if err := appliance.EnableUnits(appDir, []string{appDir, pkgView}, in.enable); err != nil {
		return nil, fmt.Errorf("%s: key units.enable: %w", in.file, err)
	}
	// Everything here was written just now: its time is the epoch, so that
	// the merged root (and disks made from it) is the same on every build.
	if err := rootfs.StampTimes(appDir, in.epoch); err != nil {
		return nil, err
	}
	if err := os.Mkdir(blobDir, 0o755); err != nil {
		return nil, err
	}
	return layer.WriteBlob(blobDir, func(w io.Writer) error {
		return layer.WriteTar(ctx, w, appDir, layer.Options{Epoch: in.epoch, RootOwned: true})
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
