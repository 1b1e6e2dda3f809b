package bake_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"maps"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"xroad-appliance/builder/outdir"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"xroad-appliance/builder/bake"
	bcache "xroad-appliance/builder/cache"
	"xroad-appliance/builder/definition"
	"xroad-appliance/builder/layer"
	"xroad-appliance/builder/packages"
	"xroad-appliance/builder/progress"
	"xroad-appliance/profiles"
	"xroad-appliance/test/base"
	"xroad-appliance/test/cache"
	"xroad-appliance/test/fixtures"
)

// FixtureVersion is the fixture X-Road packages' version the builds install.
const FixtureVersion = "7.8.0-1"

// fixture is what the builds in this package share: the cached Debian 12
// base, the signed fixture repository, an xroad-node binary and the image
// builder's cache (kept between runs under the test cache, so that warm runs
// reuse base and package layers).
type fixture struct {
	cacheRoot  string
	baseRootfs string
	repo       *fixtures.Repo
	nodeBinary string
}

var (
	fixtureOnce sync.Once
	shared      *fixture
	sharedErr   error
	binDir      string
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "xroad-image-test-bin-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

func setup(t testing.TB) *fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("builds images from the cached Debian 12 base")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: chroot, overlayfs, file owners")
	}
	fixtureOnce.Do(func() { shared, sharedErr = newFixture() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func newFixture() (*fixture, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	root, err := cache.Root()
	if err != nil {
		return nil, err
	}
	baseRootfs, err := base.Bootstrap(ctx, root)
	if err != nil {
		return nil, err
	}
	repo, err := fixtures.BuildRepo(ctx, root, FixtureVersion)
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(binDir, "xroad-node")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "xroad-appliance/cmd/xroad-node")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, errors.New(string(out))
	}
	// A cache of its own: these tests look for leftovers under it and drop
	// its layers, which must not touch the images other test packages
	// build at the same time.
	return &fixture{cacheRoot: filepath.Join(root, "xroad-image-buildtest"), baseRootfs: baseRootfs, repo: repo, nodeBinary: bin}, nil
}

// definitionFile is the shipped security-server definition.
func definitionFile() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "../../images/securityserver.yaml")
}

// resolve loads the shipped definition with the test's base and repository.
func (f *fixture) resolve(t testing.TB, o definition.Overrides) *definition.Resolved {
	t.Helper()
	d, err := definition.Load(definitionFile())
	if err != nil {
		t.Fatal(err)
	}
	if o.Profile == "" {
		o.Profile = "debian-12" // the profile of the test's base
	}
	if o.Base == "" {
		o.Base = "rootfs:" + f.baseRootfs
	}
	if o.RepoDir == "" && o.RepoURL == "" {
		o.RepoDir, o.RepoKeyring, o.Suite, o.Offline = f.repo.Dir, f.repo.Keyring, fixtures.Suite, true
	}
	if err := d.Apply(o); err != nil {
		t.Fatal(err)
	}
	r, err := d.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) build(t testing.TB, r *definition.Resolved, out, nodeBinary string) (*bake.Result, error) {
	t.Helper()
	if nodeBinary == "" {
		nodeBinary = f.nodeBinary
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := bake.Run(ctx, bake.Options{
		Definition: r, OutDir: out, CacheRoot: f.cacheRoot, NodeBinary: nodeBinary,
		Version: "test", Progress: progress.Func(func(line string) { t.Logf("%s", line) }),
	})
	t.Logf("build took %s", time.Since(start).Round(time.Millisecond))
	f.checkNoMounts(t)
	return res, err
}

// checkNothingLeft fails the test if a failed build left output beside
// its output directory in parent, or a cache entry of kind not in before.
func (f *fixture) checkNothingLeft(t testing.TB, parent, kind string, before []string) {
	t.Helper()
	if left, _ := os.ReadDir(parent); len(left) > 0 {
		t.Errorf("output left behind: %v", left)
	}
	after, _ := filepath.Glob(filepath.Join(f.cacheRoot, kind, "*"))
	for _, p := range after {
		if !slices.Contains(before, p) && !strings.HasSuffix(p, ".lock") {
			t.Errorf("cache entry left behind: %s", p)
		}
	}
}

// checkNoMounts fails the test if a build left a mount or a work directory.
func (f *fixture) checkNoMounts(t testing.TB) {
	t.Helper()
	if m, err := bcache.MountsUnder(f.cacheRoot); err != nil || len(m) > 0 {
		t.Errorf("mounts left under the cache: %v %v", m, err)
	}
	if work, _ := filepath.Glob(filepath.Join(f.cacheRoot, "work", "*")); len(work) > 0 {
		t.Errorf("work directories left: %v", work)
	}
}

func TestBuildImage(t *testing.T) {
	f := setup(t)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	u, _ := url.Parse(reg.URL)
	pushRef := u.Host + "/xroad/securityserver:test"

	out := filepath.Join(t.TempDir(), "out")
	r := f.resolve(t, definition.Overrides{Outputs: benchOutputs, Push: pushRef})
	res, err := f.build(t, r, out, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Layers) != 3 || res.Layers[0].Name != "base" || res.Layers[1].Name != "packages" || res.Layers[2].Name != "appliance" {
		t.Fatalf("layers %+v", res.Layers)
	}

	img := layoutImage(t, filepath.Join(out, bake.LayoutDir))
	checkImage(t, img, r, res)

	// The same image in every output.
	pushed, err := remote.Image(mustRef(t, pushRef))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := pushed.Digest(); d.String() != res.ManifestDigest {
		t.Errorf("pushed digest %s, built %s", d, res.ManifestDigest)
	}
	archived, err := tarball.ImageFromPath(filepath.Join(out, bake.DockerArchive), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := archived.ConfigName(); c.String() != res.ConfigDigest {
		t.Errorf("docker archive config %s, built %s", c, res.ConfigDigest)
	}
	manifest, err := os.ReadFile(filepath.Join(out, bake.ManifestFile))
	if err != nil || !strings.Contains(string(manifest), "xroad-securityserver "+FixtureVersion+" all\n") {
		t.Errorf("package manifest lacks xroad-securityserver %s: %v\n%s", FixtureVersion, err, manifest)
	}
	rootfs := tarEntries(t, mustOpen(t, filepath.Join(out, bake.RootfsTar)))
	for _, p := range []string{"usr/bin/xroad-node", "usr/share/xroad/bin/xroad-proxy", "usr/lib/systemd/systemd"} {
		if rootfs[p] == nil {
			t.Errorf("rootfs tar lacks %s", p)
		}
	}
	for p := range rootfs {
		if profiles.Removed(r.Remove, "/"+p) {
			t.Errorf("rootfs tar carries the per-install %s", p)
		}
	}
	if _, err := os.Stat(filepath.Join(out, bake.SummaryFile)); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(out, "xroad-securityserver.docker.tar")); err == nil {
		t.Error("unexpected file")
	}

	// A second build of the same inputs into an occupied directory: refused
	// without Force, then the same digest from the cache, the old output
	// moved aside.
	if _, err := f.build(t, r, out, ""); !errors.Is(err, outdir.ErrNotEmpty) {
		t.Fatalf("occupied output directory: %v", err)
	}
	again, err := bake.Run(context.Background(), bake.Options{Definition: r, OutDir: out, Force: true, CacheRoot: f.cacheRoot, NodeBinary: f.nodeBinary, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if again.ManifestDigest != res.ManifestDigest {
		t.Errorf("second build %s, first %s", again.ManifestDigest, res.ManifestDigest)
	}
	if !again.Cache.Base || !again.Cache.Packages || !again.Cache.BaseBlob || !again.Cache.PackagesBlob {
		t.Errorf("second build missed the cache: %+v", again.Cache)
	}
	if again.MovedAside == "" {
		t.Error("old output not moved aside")
	} else if _, err := os.Stat(filepath.Join(again.MovedAside, bake.SummaryFile)); err != nil {
		t.Errorf("moved-aside output incomplete: %v", err)
	}
}

// checkImage inspects the OCI image: media types, config, labels,
// annotations and files with their modes and owners.
func checkImage(t *testing.T, img v1.Image, r *definition.Resolved, res *bake.Result) {
	t.Helper()
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("config media type %s", m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer media type %s", l.MediaType)
		}
	}
	if !strings.Contains(m.Annotations[bake.AnnotPackages], "xroad-proxy "+FixtureVersion) {
		t.Errorf("package annotation lacks xroad-proxy: %.200q", m.Annotations[bake.AnnotPackages])
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Created.Time.Equal(r.Epoch) {
		t.Errorf("created %v, want the epoch %v", cfg.Created, r.Epoch)
	}
	for k, want := range map[string]string{
		bake.LabelProfile:                  "debian-12",
		bake.LabelPostgreSQL:               "15",
		"org.opencontainers.image.version": "7.8.0",
		"org.opencontainers.image.title":   "xroad-securityserver",
		"org.opencontainers.image.source":  "https://github.com/nordic-institute/X-Road",
	} {
		if got := cfg.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if len(cfg.History) != 3 || len(cfg.RootFS.DiffIDs) != 3 {
		t.Errorf("history %d, diff ids %d", len(cfg.History), len(cfg.RootFS.DiffIDs))
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	pkgs := layerEntries(t, layers[1])
	app := layerEntries(t, layers[2])
	uid, gid := idOf(t, layers[1], "etc/passwd", "xroad"), idOf(t, layers[1], "etc/group", "xroad")
	type want struct {
		entries  map[string]*tar.Header
		path     string
		mode     int64
		uid, gid int
		typ      byte
	}
	for _, w := range []want{
		{app, "usr/bin/xroad-node", 0o755, 0, 0, tar.TypeReg},
		{app, "usr/lib/systemd/system/xroad-provision.service", 0o644, 0, 0, tar.TypeReg},
		{app, "usr/share/xroad-appliance/profile.yaml", 0o644, 0, 0, tar.TypeReg},
		{app, "etc/systemd/system/multi-user.target.wants/systemd-networkd.service", 0o777, 0, 0, tar.TypeSymlink},
		{app, "etc/systemd/system/sockets.target.wants/systemd-networkd.socket", 0o777, 0, 0, tar.TypeSymlink},
		{pkgs, "etc/xroad/conf.d/local.ini", 0o640, uid, gid, tar.TypeReg},
		{pkgs, "etc/xroad/", 0o751, uid, gid, tar.TypeDir},
		{pkgs, "usr/share/keyrings/xroad.gpg", 0o644, 0, 0, tar.TypeReg},
		{pkgs, "etc/apt/preferences.d/xroad.pref", 0o644, 0, 0, tar.TypeReg},
	} {
		h := w.entries[w.path]
		switch {
		case h == nil:
			t.Errorf("layer lacks %s", w.path)
		case h.Typeflag != w.typ || h.Mode&0o7777 != w.mode || h.Uid != w.uid || h.Gid != w.gid:
			t.Errorf("%s: type %c mode %o owner %d:%d; want %c %o %d:%d", w.path, h.Typeflag, h.Mode, h.Uid, h.Gid, w.typ, w.mode, w.uid, w.gid)
		case h.ModTime.After(r.Epoch):
			t.Errorf("%s: mtime %v after the epoch", w.path, h.ModTime)
		}
	}
	for _, p := range []string{"usr/sbin/policy-rc.d", "etc/apt/sources.list.d/xroad.list", "var/cache/apt/pkgcache.bin"} {
		if pkgs[p] != nil {
			t.Errorf("package layer carries %s", p)
		}
	}
	for p := range pkgs {
		if strings.HasPrefix(p, "var/lib/apt/lists/") && !strings.HasSuffix(p, "/") {
			t.Errorf("package layer carries the package list %s", p)
		}
	}

	// No layer carries per-install material, not even under a later
	// layer's whiteout: the packages' keys and passwords, ssl-cert's
	// snakeoil pair (the test base's PostgreSQL made one), host keys.
	for i, l := range layers {
		for p, h := range layerEntries(t, l) {
			if h.Typeflag != tar.TypeDir && !strings.Contains(p, ".wh.") && profiles.Removed(r.Remove, "/"+p) {
				t.Errorf("layer %d carries the per-install %s", i, p)
			}
		}
	}

	// The flattened image, as a container runtime sees it.
	flat := tarEntries(t, mutate.Extract(img))
	if h := flat["etc/machine-id"]; h == nil || h.Size != 0 {
		t.Errorf("etc/machine-id %+v: want an empty file", h)
	}
	for p := range flat {
		if strings.HasPrefix(p, "etc/ssh/ssh_host_") {
			t.Errorf("image carries the SSH host key %s", p)
		}
	}
	if flat["usr/bin/xroad-node"] == nil || flat["usr/share/xroad/bin/xroad-proxy"] == nil {
		t.Error("flattened image lacks xroad-node or the X-Road packages")
	}
}

// idOf finds the id of name in the etc/passwd or etc/group (file) the
// package layer wrote.
func idOf(t *testing.T, l v1.Layer, file, name string) int {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("package layer has no %s: %v", file, err)
		}
		if h.Name != file {
			continue
		}
		b, _ := io.ReadAll(tr)
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Split(line, ":"); len(f) > 3 && f[0] == name {
				uid, err := strconv.Atoi(f[2])
				if err != nil {
					t.Fatal(err)
				}
				return uid
			}
		}
		t.Fatalf("%s has no %s", file, name)
	}
}

func layoutImage(t *testing.T, dir string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("layout index: %v, %v", im, err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func layerEntries(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	return tarEntries(t, rc)
}

// tarEntries reads a tar stream's headers by name and checks that the
// entries are sorted as the builder writes them (parents first).
func tarEntries(t *testing.T, rc io.ReadCloser) map[string]*tar.Header {
	t.Helper()
	defer rc.Close()
	m := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return m
		}
		if err != nil {
			t.Fatal(err)
		}
		m[h.Name] = h
	}
}

func mustOpen(t *testing.T, path string) io.ReadCloser {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReproducible builds twice from the same inputs, the second time with
// the compressed layers made again from the cached trees: the manifest
// digest must not change.
func TestReproducible(t *testing.T) {
	f := setup(t)
	r := f.resolve(t, definition.Overrides{Outputs: []string{definition.OutputOCILayout}})
	first, err := f.build(t, r, filepath.Join(t.TempDir(), "a"), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := bcache.RemoveTree(filepath.Join(f.cacheRoot, "layers")); err != nil {
		t.Fatal(err)
	}
	second, err := f.build(t, r, filepath.Join(t.TempDir(), "b"), "")
	if err != nil {
		t.Fatal(err)
	}
	if second.Cache.BaseBlob || second.Cache.PackagesBlob {
		t.Fatalf("blobs came from the cache: %+v", second.Cache)
	}
	if first.ManifestDigest != second.ManifestDigest {
		t.Fatalf("same inputs, different images: %s and %s\n%+v\n%+v", first.ManifestDigest, second.ManifestDigest, first.Layers, second.Layers)
	}
}

// TestNewNodeBinaryReusesLayers changes only the xroad-node binary: base
// and package layers come from the cache unchanged.
func TestNewNodeBinaryReusesLayers(t *testing.T) {
	f := setup(t)
	r := f.resolve(t, definition.Overrides{Outputs: []string{definition.OutputOCILayout}})
	first, err := f.build(t, r, filepath.Join(t.TempDir(), "a"), "")
	if err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(t.TempDir(), "xroad-node")
	b, err := os.ReadFile(f.nodeBinary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(changed, append(b, []byte("\nanother build")...), 0o755); err != nil {
		t.Fatal(err)
	}
	second, err := f.build(t, r, filepath.Join(t.TempDir(), "b"), changed)
	if err != nil {
		t.Fatal(err)
	}
	if c := second.Cache; !c.Base || !c.Packages || !c.BaseBlob || !c.PackagesBlob {
		t.Errorf("base or package layer rebuilt: %+v", c)
	}
	for i := range 2 {
		if first.Layers[i].Digest != second.Layers[i].Digest {
			t.Errorf("layer %s changed: %s → %s", first.Layers[i].Name, first.Layers[i].Digest, second.Layers[i].Digest)
		}
	}
	if first.Layers[2].Digest == second.Layers[2].Digest || first.ManifestDigest == second.ManifestDigest {
		t.Error("a new binary did not change the appliance layer")
	}
}

// TestBadRepositoryFails builds from repositories that must be refused: the
// build fails naming the problem and leaves no output, no cache entry and
// no mount behind.
func TestBadRepositoryFails(t *testing.T) {
	f := setup(t)
	unsigned := t.TempDir()
	if err := exec.Command("cp", "-a", f.repo.Dir+"/.", unsigned).Run(); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []string{"InRelease", "Release.gpg"} {
		if err := os.Remove(filepath.Join(unsigned, "dists", fixtures.Suite, sig)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		o    definition.Overrides
		want string
	}{
		{"unsigned", definition.Overrides{RepoDir: unsigned, RepoKeyring: f.repo.Keyring, Suite: fixtures.Suite, Offline: true},
			"the repository is not signed"},
		{"signed by another key", definition.Overrides{RepoDir: f.repo.Dir, RepoKeyring: "/usr/share/keyrings/debian-archive-keyring.gpg", Suite: fixtures.Suite, Offline: true},
			"its signature does not verify"},
		{"unreachable", definition.Overrides{RepoURL: "http://127.0.0.1:9/xroad", RepoKeyring: f.repo.Keyring, Suite: fixtures.Suite, Offline: true},
			"unreachable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(c.o.RepoKeyring); err != nil {
				t.Skip(err)
			}
			before, _ := filepath.Glob(filepath.Join(f.cacheRoot, "packages", "*"))
			parent := t.TempDir()
			out := filepath.Join(parent, "out")
			_, err := f.build(t, f.resolve(t, c.o), out, "")
			var repoErr *packages.RepositoryError
			if !errors.As(err, &repoErr) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v: want a repository error saying %q", err, c.want)
			}
			f.checkNothingLeft(t, parent, "packages", before)
		})
	}
}

// TestBootstrapRefusesUntrustedArchive bootstraps ubuntu-24.04 with
// profile facts an archive must not pass: a pinned key the keyring lacks, a
// Release signed by none of the pinned keys, a mirror that does not answer,
// a suite debootstrap has no script for. Each build fails naming the
// profile key (and for keys the fingerprints found) with no output, no base
// in the cache and no mount left.
func TestBootstrapRefusesUntrustedArchive(t *testing.T) {
	f := setup(t)
	const ubuntuKey = "F6ECB3762474EDA9D21B7022871920D1991BC93C"
	cases := []struct {
		name  string
		edit  func(b *profiles.Bootstrap)
		wants []string
	}{
		{"wrong pinned fingerprint", func(b *profiles.Bootstrap) {
			b.Keyring.Fingerprints = []string{"0123456789ABCDEF0123456789ABCDEF01234567"}
		}, []string{"key bootstrap.keyring.fingerprints", "pinned 0123456789ABCDEF0123456789ABCDEF01234567 not in the keyring", ubuntuKey}},
		{"release signed by another key", func(b *profiles.Bootstrap) {
			b.Keyring = &profiles.ArchiveKeyring{HostFile: "/usr/share/keyrings/debian-archive-keyring.gpg",
				Fingerprints: []string{"B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8"}, Path: b.Keyring.Path}
		}, []string{"key bootstrap.keyring.fingerprints", "is not signed by the pinned B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8"}},
		{"mirror does not answer", func(b *profiles.Bootstrap) {
			b.Mirror = "http://127.0.0.1:9/ubuntu"
		}, []string{"key bootstrap.mirror: http://127.0.0.1:9/ubuntu does not answer", "ubuntu-keyring", "unreachable"}},
		{"no debootstrap script", func(b *profiles.Bootstrap) { b.Script = "no-such-suite" },
			[]string{"key bootstrap.script", `no script "no-such-suite"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.resolve(t, definition.Overrides{Profile: "ubuntu-24.04", Base: "bootstrap"})
			c.edit(&r.Facts.Bootstrap)
			before, _ := filepath.Glob(filepath.Join(f.cacheRoot, "base", "*"))
			parent := t.TempDir()
			_, err := f.build(t, r, filepath.Join(parent, "out"), "")
			if err == nil {
				t.Fatal("build succeeded")
			}
			t.Logf("refused: %v", err)
			for _, want := range c.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
			f.checkNothingLeft(t, parent, "base", before)
		})
	}
}

// TestBuiltRootVerifies unpacks the rootfs tar and runs systemd-analyze
// verify over the boot transaction with the appliance's units in it: any
// output (ordering cycles, bad directives, missing executables) fails.
func TestBuiltRootVerifies(t *testing.T) {
	f := setup(t)
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("needs systemd-analyze (package systemd)")
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := f.build(t, f.resolve(t, definition.Overrides{Outputs: []string{definition.OutputRootfsTar}}), out, ""); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	tarball := mustOpen(t, filepath.Join(out, bake.RootfsTar))
	defer tarball.Close()
	if err := layer.Extract(context.Background(), tarball, root); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"usr/bin/xroad-node", "usr/lib/systemd/system/xroad-provision.service",
		"etc/systemd/system/multi-user.target.wants/xroad-provision.service", "usr/share/xroad-appliance/profile.yaml"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("built root lacks %s: %v", p, err)
		}
	}
	cmd := exec.Command("systemd-analyze", "verify", "--root="+root,
		"multi-user.target", "xroad-provision.service", "xroad-sync.timer", "xroad-proxy.service")
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDiskOutputs builds the raw and qcow2 disks: the package layer gets
// the profile's kernel and bootloader packages from the Debian mirror (the
// base's own source) besides the fixture X-Road packages, and two builds
// give the same raw disk.
func TestDiskOutputs(t *testing.T) {
	f := setup(t)
	for _, tool := range []string{"mkfs.ext4", "debugfs", "qemu-img"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (e2fsprogs, qemu-utils)", tool)
		}
	}
	r := f.resolve(t, definition.Overrides{
		Outputs: []string{definition.OutputPackageManifest, "raw", "qcow2"},
		RepoDir: f.repo.Dir, RepoKeyring: f.repo.Keyring, Suite: fixtures.Suite, // online: the kernel comes from the mirror
	})
	for _, p := range r.Facts.Disk.Packages {
		if !slices.Contains(r.Packages, p) {
			t.Fatalf("disk outputs asked for, but %s is not installed", p)
		}
	}
	disks := func(res *bake.Result) map[string]bake.Output {
		m := map[string]bake.Output{}
		for _, o := range res.Outputs {
			m[o.Kind] = o
		}
		return m
	}
	first, err := f.build(t, r, filepath.Join(t.TempDir(), "a"), "")
	if err != nil {
		t.Fatal(err)
	}
	a := disks(first)
	for _, kind := range []string{"raw", "qcow2"} {
		o, ok := a[kind]
		if !ok || o.SHA256 == "" || o.Size == 0 {
			t.Fatalf("no %s output: %+v", kind, first.Outputs)
		}
		if fi, err := os.Stat(o.Path); err != nil || fi.Size() != o.Size {
			t.Errorf("%s: %v %v", o.Path, fi, err)
		}
	}
	if filepath.Base(a["raw"].Path) != "xroad-securityserver.raw" {
		t.Errorf("raw disk at %s", a["raw"].Path)
	}
	manifest, _ := os.ReadFile(filepath.Join(first.OutDir, bake.ManifestFile))
	if !strings.Contains(string(manifest), "\nlinux-image-amd64 ") {
		t.Error("the package manifest has no kernel")
	}
	second, err := f.build(t, r, filepath.Join(t.TempDir(), "b"), "")
	if err != nil {
		t.Fatal(err)
	}
	if b := disks(second); b["raw"].SHA256 != a["raw"].SHA256 || second.ManifestDigest != first.ManifestDigest {
		t.Errorf("same inputs, different disks or images: %s / %s", a["raw"].SHA256, b["raw"].SHA256)
	}
}

// TestSecretScanRefusesTheBuild plants a private key and a database password
// in the image's root after the removal: the build fails naming both paths
// (sorted, and never the password), and the output directory, which holds
// an earlier build, is left as it was, although --force was given.
func TestSecretScanRefusesTheBuild(t *testing.T) {
	f := setup(t)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	const password = "planted-s3cret"
	plant := func(appDir string) error {
		for p, data := range map[string][]byte{
			"opt/vendor/id_rsa":       key,
			"etc/xroad/db.properties": []byte("serverconf.hibernate.connection.password = " + password + "\n"),
		} {
			host := filepath.Join(appDir, p)
			if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(host, data, 0o600); err != nil {
				return err
			}
		}
		return nil
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "earlier"), []byte("an earlier build"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	u, _ := url.Parse(reg.URL)
	pushRef := u.Host + "/xroad/securityserver:planted"
	r := f.resolve(t, definition.Overrides{Outputs: []string{definition.OutputOCILayout, definition.OutputRootfsTar}, Push: pushRef})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var lines []string
	_, err = bake.Run(ctx, bake.WithPlant(bake.Options{
		Definition: r, OutDir: out, Force: true, CacheRoot: f.cacheRoot, NodeBinary: f.nodeBinary, Version: "test",
		Progress: progress.Func(func(line string) { lines = append(lines, line); t.Logf("%s", line) }),
	}, plant))
	f.checkNoMounts(t)
	var secrets *bake.SecretsError
	if !errors.As(err, &secrets) {
		t.Fatalf("error %v: want the secret scan's", err)
	}
	t.Logf("refused: %v", err)
	var paths []string
	for _, fd := range secrets.Findings {
		paths = append(paths, fd.Path)
	}
	if got := strings.Join(paths, " "); got != "/etc/xroad/db.properties /opt/vendor/id_rsa" {
		t.Errorf("findings %s: want /etc/xroad/db.properties and /opt/vendor/id_rsa", got)
	}
	msg := err.Error()
	if !strings.Contains(msg, "/etc/xroad/db.properties") || !strings.Contains(msg, "/opt/vendor/id_rsa") || strings.Contains(msg, password) {
		t.Errorf("error must name both paths and not the password:\n%s", msg)
	}
	if left, _ := os.ReadDir(parent); len(left) != 1 || left[0].Name() != "out" {
		t.Errorf("beside the output directory: %v", left)
	}
	if left, _ := os.ReadDir(out); len(left) != 1 || left[0].Name() != "earlier" {
		t.Errorf("output directory changed: %v", left)
	}
	if _, err := remote.Image(mustRef(t, pushRef)); err == nil {
		t.Error("the image was pushed")
	}
}

// TestInstallWithoutIgnoreDatabaseSetupFails: the X-Road packages set up
// their databases in postinst and need a running PostgreSQL for it, which
// an image build has not; only the profile's XROAD_IGNORE_DATABASE_SETUP
// lets the install pass (TestBuildImage builds with it). Without it the
// build fails in the package's postinst and leaves nothing behind.
func TestInstallWithoutIgnoreDatabaseSetupFails(t *testing.T) {
	f := setup(t)
	r := f.resolve(t, definition.Overrides{Outputs: []string{definition.OutputRootfsTar}})
	facts := *r.Facts
	facts.Install.Env = maps.Clone(facts.Install.Env)
	delete(facts.Install.Env, "XROAD_IGNORE_DATABASE_SETUP")
	r.Facts = &facts
	before, _ := filepath.Glob(filepath.Join(f.cacheRoot, "packages", "*"))
	parent := t.TempDir()
	_, err := f.build(t, r, filepath.Join(parent, "out"), "")
	if err == nil || !strings.Contains(err.Error(), "no PostgreSQL answering") {
		t.Fatalf("error %v: want the postinst's database setup failing for want of PostgreSQL", err)
	}
	f.checkNothingLeft(t, parent, "packages", before)
}
