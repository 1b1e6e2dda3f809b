package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var epoch = time.Unix(1704067200, 0).UTC()

// tree makes a small root with every kind of entry an image has.
func tree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "etc/xroad"), 0o751))
	must(os.WriteFile(filepath.Join(dir, "etc/xroad/db.properties"), []byte("secret"), 0o640))
	must(os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "usr/bin/perl"), []byte("#!perl"), 0o755))
	must(os.Link(filepath.Join(dir, "usr/bin/perl"), filepath.Join(dir, "usr/bin/perl5.36")))
	must(os.Symlink("usr/bin", filepath.Join(dir, "bin")))
	must(os.WriteFile(filepath.Join(dir, "usr/bin/sudo"), []byte("sudo"), 0o755))
	must(os.Chmod(filepath.Join(dir, "usr/bin/sudo"), 0o755|os.ModeSetuid))
	must(unix.Mkfifo(filepath.Join(dir, "etc/fifo"), 0o600))
	old := time.Unix(1600000000, 0)
	must(os.Chtimes(filepath.Join(dir, "usr/bin/perl"), old, old))
	if os.Geteuid() == 0 {
		must(os.Chown(filepath.Join(dir, "etc/xroad/db.properties"), 999, 998))
		must(os.Chown(filepath.Join(dir, "etc/xroad"), 999, 998))
	}
	return dir
}

func writeTar(t *testing.T, dir string, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteTar(context.Background(), &buf, dir, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func entries(t *testing.T, b []byte) map[string]*tar.Header {
	t.Helper()
	m := map[string]*tar.Header{}
	var order []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		m[h.Name] = h
		order = append(order, h.Name)
	}
	for i := 1; i < len(order); i++ {
		// Parents come before children: a child's parent is a prefix.
		if strings.HasPrefix(order[i-1], order[i]) && strings.HasSuffix(order[i], "/") {
			t.Errorf("directory %s after its child %s", order[i], order[i-1])
		}
	}
	return m
}

func TestWriteTarIsReproducible(t *testing.T) {
	dir := tree(t)
	a := writeTar(t, dir, Options{Epoch: epoch})
	// Reading the files and changing their ctime must not matter.
	now := time.Now()
	os.Chtimes(filepath.Join(dir, "etc/xroad/db.properties"), now, time.Time{})
	os.Chmod(filepath.Join(dir, "usr/bin/perl"), 0o755)
	b := writeTar(t, dir, Options{Epoch: epoch})
	if !bytes.Equal(a, b) {
		t.Fatal("the same tree gave different tar streams")
	}
	e := entries(t, a)
	if h := e["etc/xroad/db.properties"]; h == nil || !h.ModTime.Equal(epoch) || h.Mode != 0o640 || h.Uname != "" {
		t.Fatalf("db.properties header %+v: want mtime clamped to the epoch, mode 0640, no user name", h)
	}
	if h := e["usr/bin/perl"]; !h.ModTime.Equal(time.Unix(1600000000, 0)) {
		t.Errorf("older mtime not kept: %v", h.ModTime)
	}
	if h := e["usr/bin/perl5.36"]; h.Typeflag != tar.TypeLink || h.Linkname != "usr/bin/perl" {
		t.Errorf("hard link %+v", h)
	}
	if h := e["bin"]; h.Typeflag != tar.TypeSymlink || h.Linkname != "usr/bin" {
		t.Errorf("symlink %+v", h)
	}
	if h := e["usr/bin/sudo"]; h.Mode != 0o4755 {
		t.Errorf("setuid lost: %o", h.Mode)
	}
	if h := e["etc/fifo"]; h.Typeflag != tar.TypeFifo {
		t.Errorf("fifo %+v", h)
	}
	if os.Geteuid() == 0 {
		if h := e["etc/xroad/"]; h.Uid != 999 || h.Gid != 998 || h.Mode != 0o751 {
			t.Errorf("owner or mode of etc/xroad/: %d:%d %o", h.Uid, h.Gid, h.Mode)
		}
	}
	if h := entries(t, writeTar(t, dir, Options{Epoch: epoch, RootOwned: true}))["etc/xroad/"]; h.Uid != 0 || h.Gid != 0 {
		t.Errorf("RootOwned kept %d:%d", h.Uid, h.Gid)
	}
}

func TestWriteTarConvertsOverlayWhiteouts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: whiteouts are device nodes and trusted xattrs")
	}
	dir := t.TempDir()
	if err := unix.Mknod(filepath.Join(dir, "gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "opaque"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(dir, "opaque"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	e := entries(t, writeTar(t, dir, Options{Epoch: epoch, Overlay: true}))
	if _, ok := e[".wh.gone"]; !ok {
		t.Errorf("no whiteout for a deleted file: %v", e)
	}
	if _, ok := e["opaque/.wh..wh..opq"]; !ok {
		t.Errorf("no opaque marker: %v", e)
	}
	if _, ok := e["gone"]; ok {
		t.Error("the overlay whiteout itself was archived")
	}
}

func TestExtractRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to restore owners")
	}
	src := tree(t)
	a := writeTar(t, src, Options{Epoch: epoch})
	dst := t.TempDir()
	if err := Extract(context.Background(), bytes.NewReader(a), dst); err != nil {
		t.Fatal(err)
	}
	if b := writeTar(t, dst, Options{Epoch: epoch}); !bytes.Equal(a, b) {
		t.Fatal("extracting and archiving again changed the stream")
	}
}

func TestExtractStaysInside(t *testing.T) {
	for name, entries := range map[string][]tar.Header{
		"dot-dot": {{Name: "../escape", Typeflag: tar.TypeReg, Mode: 0o644}},
		"through a symlink": {
			{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: "/"},
			{Name: "evil/tmp/escape", Typeflag: tar.TypeReg, Mode: 0o644},
		},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range entries {
				h.Uid, h.Gid = os.Geteuid(), os.Getegid()
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
			}
			tw.Close()
			dst := t.TempDir()
			if err := Extract(context.Background(), &buf, dst); err == nil {
				t.Fatal("extracted an entry outside the root")
			}
			if _, err := os.Stat("/tmp/escape"); err == nil {
				t.Fatal("/tmp/escape written")
			}
		})
	}
}

func TestBlobDigests(t *testing.T) {
	src := tree(t)
	write := func(w io.Writer) error { return WriteTar(context.Background(), w, src, Options{Epoch: epoch}) }
	d1, d2 := t.TempDir(), t.TempDir()
	a, err := WriteBlob(d1, write)
	if err != nil {
		t.Fatal(err)
	}
	b, err := WriteBlob(d2, write)
	if err != nil {
		t.Fatal(err)
	}
	if a.Info != b.Info {
		t.Fatalf("same stream, different blobs: %+v %+v", a.Info, b.Info)
	}
	loaded, err := LoadBlob(d1)
	if err != nil || loaded.Info != a.Info {
		t.Fatalf("LoadBlob = %+v, %v", loaded, err)
	}
	rc, err := loaded.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	n, _ := io.Copy(h, rc)
	if hex.EncodeToString(h.Sum(nil)) != a.Info.DiffID.Hex || n != a.Info.UncompressedSize {
		t.Fatal("DiffID does not match the uncompressed stream")
	}
}
