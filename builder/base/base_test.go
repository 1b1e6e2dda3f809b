package base

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"xroad-appliance/builder/cache"
	"xroad-appliance/profiles"
)

type entry struct {
	name, body string
	typ        byte
	mode       int64
	uid        int
}

func tarLayer(t *testing.T, entries []entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), Uid: e.uid, Gid: e.uid}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeDir {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			io.WriteString(tw, e.body)
		}
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testImage is a two-layer base: machine identity to be reset, a file the
// upper layer deletes and a directory it makes opaque.
func testImage(t *testing.T) v1.Image {
	t.Helper()
	lower := tarLayer(t, []entry{
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/hostname", body: "buildhost\n", mode: 0o644},
		{name: "etc/machine-id", body: "0123456789abcdef\n", mode: 0o444},
		{name: "etc/ssh/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/ssh/ssh_host_ed25519_key", body: "secret", mode: 0o600},
		{name: "etc/ssh/sshd_config", body: "Port 22\n", mode: 0o644},
		{name: "var/lib/apt/lists/", typ: tar.TypeDir, mode: 0o755},
		{name: "var/lib/apt/lists/deb.debian.org_Packages", body: "stale", mode: 0o644},
		{name: "gone", body: "deleted above", mode: 0o644},
		{name: "opaque/", typ: tar.TypeDir, mode: 0o755},
		{name: "opaque/hidden", body: "hidden above", mode: 0o644},
		{name: "home/user/", typ: tar.TypeDir, mode: 0o750, uid: 1000},
		{name: "usr/bin/tool", body: "#!/bin/sh\n", mode: 0o4755},
		// ssl-cert's pair, made when a base's PostgreSQL was installed.
		{name: "etc/ssl/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/ssl/private/", typ: tar.TypeDir, mode: 0o710},
		{name: "etc/ssl/private/ssl-cert-snakeoil.key", body: "key", mode: 0o640},
		{name: "etc/ssl/certs/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/ssl/certs/ssl-cert-snakeoil.pem", body: "certificate", mode: 0o644},
		{name: "etc/ssl/certs/ca-certificates.crt", body: "kept", mode: 0o644},
	})
	upper := tarLayer(t, []entry{
		{name: ".wh.gone", mode: 0o644},
		{name: "opaque/", typ: tar.TypeDir, mode: 0o755},
		{name: "opaque/.wh..wh..opq", mode: 0o644},
		{name: "opaque/kept", body: "from the upper layer", mode: 0o644},
	})
	img, err := mutate.AppendLayers(empty.Image, lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var debian12 = func() *profiles.Facts {
	f, err := profiles.Resolve("debian-12", "")
	if err != nil {
		panic(err)
	}
	return f
}()

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to restore file owners")
	}
}

func checkBase(t *testing.T, b *Base) {
	t.Helper()
	read := func(p string) string {
		data, err := os.ReadFile(filepath.Join(b.Rootfs, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return string(data)
	}
	if got := read("etc/hostname"); got != "localhost\n" {
		t.Errorf("hostname %q", got)
	}
	if got := read("etc/machine-id"); got != "" {
		t.Errorf("machine-id %q: want empty", got)
	}
	if got := read("opaque/kept"); got != "from the upper layer" {
		t.Errorf("opaque/kept %q", got)
	}
	if got := read("etc/ssl/certs/ca-certificates.crt"); got != "kept" {
		t.Errorf("ca-certificates.crt %q", got)
	}
	for _, p := range []string{"gone", "opaque/hidden", "etc/ssh/ssh_host_ed25519_key", "var/lib/apt/lists/deb.debian.org_Packages",
		"etc/ssl/private/ssl-cert-snakeoil.key", "etc/ssl/certs/ssl-cert-snakeoil.pem"} {
		if _, err := os.Lstat(filepath.Join(b.Rootfs, p)); !os.IsNotExist(err) {
			t.Errorf("%s is in the base: %v", p, err)
		}
	}
	fi, err := os.Stat(filepath.Join(b.Rootfs, "usr/bin/tool"))
	if err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("usr/bin/tool lost setuid: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(b.Rootfs, "home/user")); err != nil || fi.Mode().Perm() != 0o750 || fileUID(fi) != 1000 {
		t.Errorf("home/user: %v %v", fi, err)
	}
}

func TestOCILayoutBase(t *testing.T) {
	needRoot(t)
	img := testImage(t)
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refName: "base:1"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(empty.Image, layout.WithAnnotations(map[string]string{refName: "other:1"})); err != nil {
		t.Fatal(err)
	}
	cacheRoot := t.TempDir()
	ctx := context.Background()
	if _, err := Get(ctx, cacheRoot, specOf(debian12, Source{Kind: KindOCILayout, Dir: dir}), nil); err == nil || !strings.Contains(err.Error(), "2 images and no name given") {
		t.Fatalf("ambiguous layout: %v", err)
	}
	b, err := Get(ctx, cacheRoot, specOf(debian12, Source{Kind: KindOCILayout, Dir: dir, Ref: "base:1"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Hit {
		t.Error("first Get was a cache hit")
	}
	checkBase(t, b)
	digest, _ := img.Digest()
	if !strings.HasSuffix(b.Describe, digest.String()) || strings.Contains(b.Describe, dir) {
		t.Errorf("describe %q: want the digest and no host path", b.Describe)
	}
	again, err := Get(ctx, cacheRoot, specOf(debian12, Source{Kind: KindOCILayout, Dir: dir, Ref: "base:1"}), nil)
	if err != nil || !again.Hit || again.Rootfs != b.Rootfs {
		t.Fatalf("second Get: %+v %v", again, err)
	}
}

func TestRegistryBase(t *testing.T) {
	needRoot(t)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	u, _ := url.Parse(reg.URL)
	ref, err := name.ParseReference(u.Host + "/debian:test")
	if err != nil {
		t.Fatal(err)
	}
	img := testImage(t)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	b, err := Get(context.Background(), t.TempDir(), specOf(debian12, Source{Kind: KindImage, Ref: ref.String()}), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkBase(t, b)
	digest, _ := img.Digest()
	if b.Describe != u.Host+"/debian@"+digest.String() {
		t.Errorf("describe %q", b.Describe)
	}
}

func TestRootfsKeyFollowsTheTree(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &directory{dir: dir}
	k1, describe, err := d.key(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(describe, dir) {
		t.Errorf("describe %q names a host path", describe)
	}
	if k2, _, _ := d.key(context.Background()); k2 != k1 {
		t.Fatal("same tree, different keys")
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("two!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if k3, _, _ := d.key(context.Background()); k3 == k1 {
		t.Fatal("changed file, same key")
	}
}

func TestBootstrapCommands(t *testing.T) {
	got := strings.Join(debootstrapCommand(debian12.Bootstrap, "/r", "/k.gpg", "/s/bookworm"), " ")
	if got != "debootstrap --variant=minbase --components=main --keyring=/k.gpg bookworm /r http://deb.debian.org/debian /s/bookworm" {
		t.Errorf("debootstrap: %s", got)
	}
	rhel, err := profiles.Resolve("rhel-9", "")
	if err != nil {
		t.Fatal(err)
	}
	argv := dnfCommand(rhel.Bootstrap, "/r", "/cache/dnf")
	want := []string{"dnf", "-y", "--installroot=/r", "--releasever=9", "--setopt=install_weak_deps=False",
		"--setopt=tsflags=nodocs", "--setopt=gpgcheck=1", "--setopt=cachedir=/cache/dnf", "--setopt=keepcache=True", "install"}
	if !slices.Equal(argv[:len(want)], want) {
		t.Errorf("dnf: %q", argv)
	}
	if pkgs := argv[len(want):]; !slices.Contains(pkgs, "systemd") || !slices.Contains(pkgs, "openssh-server") || !slices.IsSorted(pkgs) {
		t.Errorf("dnf packages %q", pkgs)
	}
	k1, _, _ := (&bootstrap{facts: debian12.Bootstrap}).key(context.Background())
	k2, _, _ := (&bootstrap{facts: rhel.Bootstrap}).key(context.Background())
	if k1 == k2 || k1 == "" {
		t.Errorf("bootstrap keys %q %q", k1, k2)
	}
}

// TestDebootstrap bootstraps the Debian 12 profile's base from its mirror.
// It downloads about 100 MB and takes minutes on a cold cache, so it runs
// only when XROAD_IMAGE_TEST_BOOTSTRAP=1 (the image tests use the harness's
// cached base instead).
func TestDebootstrap(t *testing.T) {
	if testing.Short() || os.Getenv("XROAD_IMAGE_TEST_BOOTSTRAP") != "1" {
		t.Skip("set XROAD_IMAGE_TEST_BOOTSTRAP=1 to bootstrap from the Debian mirror")
	}
	needRoot(t)
	root, err := cache.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Get(context.Background(), root, specOf(debian12, Source{Kind: KindBootstrap}), func(l string) { t.Log(l) })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"usr/lib/systemd/systemd", "usr/bin/cloud-init", "usr/sbin/sshd", "usr/bin/rsync"} {
		if _, err := os.Stat(filepath.Join(b.Rootfs, p)); err != nil {
			t.Error(err)
		}
	}
	if keys, _ := filepath.Glob(filepath.Join(b.Rootfs, "etc/ssh/ssh_host_*")); len(keys) > 0 {
		t.Errorf("base keeps host keys %v", keys)
	}
	if _, err := os.Stat(filepath.Join(b.Rootfs, "usr/sbin/policy-rc.d")); err == nil {
		t.Error("base keeps policy-rc.d")
	}
}

func fileUID(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// specOf is what the pipeline asks of a base with facts from src.
func specOf(facts *profiles.Facts, src Source) Spec {
	return Spec{Source: src, Profile: facts.Name, Bootstrap: facts.Bootstrap, Remove: facts.Install.Remove, Empty: facts.Install.Empty}
}
