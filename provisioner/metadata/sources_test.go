package metadata

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// frozenFile is where a node keeps its frozen copy (nodestate.frozenFile).
const frozenFile = "/var/lib/xroad-node/metadata.yaml"

// testSources is a fake root with a captured log.
func testSources(t *testing.T) (Sources, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	return Sources{
		Root:   t.TempDir(),
		Frozen: frozenFile,
		Owner:  os.Getuid(),
		Logger: slog.New(slog.NewTextHandler(&log, nil)),
	}, &log
}

func putFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask
		t.Fatal(err)
	}
}

// cloudConfigFor wraps a document in #cloud-config user-data as xroad-image
// would write it.
func cloudConfigFor(t testing.TB, doc []byte, encoding, perm string) []byte {
	t.Helper()
	var content string
	switch encoding {
	case "":
		content = "|\n      " + strings.ReplaceAll(strings.TrimRight(string(doc), "\n"), "\n", "\n      ")
	case "b64":
		content = base64.StdEncoding.EncodeToString(doc)
	case "gz+b64":
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(doc)
		zw.Close()
		content = base64.StdEncoding.EncodeToString(buf.Bytes())
	default:
		t.Fatalf("encoding %s", encoding)
	}
	ud := "#cloud-config\nhostname: ss1\nlocale: C.UTF-8\nwrite_files:\n" +
		"  - path: /etc/motd\n    content: hello\n" +
		"  - path: " + RoleFile + "\n    owner: root:root\n"
	if perm != "" {
		ud += "    permissions: " + perm + "\n"
	}
	if encoding != "" {
		ud += "    encoding: " + encoding + "\n"
	}
	return []byte(ud + "    content: " + content + "\n")
}

func TestLoadExplicitWins(t *testing.T) {
	src, _ := testSources(t)
	putFile(t, src.path(RoleFile), []byte(marshal(t, primaryDoc(t))), 0o600)
	explicit := filepath.Join(t.TempDir(), "node.yaml")
	putFile(t, explicit, []byte(marshal(t, secondaryDoc(t))), 0o600)

	doc, origin, err := Load(src, explicit)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "explicit:"+explicit || doc.Role != RoleSecondary {
		t.Errorf("origin %s role %s", origin, doc.Role)
	}
	if _, _, err := Load(src, explicit+".missing"); err == nil || !strings.Contains(err.Error(), "given explicitly") {
		t.Errorf("missing explicit file: %v", err)
	}
}

func TestLoadRoleFile(t *testing.T) {
	src, _ := testSources(t)
	putFile(t, src.path(RoleFile), []byte(marshal(t, primaryDoc(t))), 0o400)
	// A seed is present too, but cloud-init's role file comes first.
	putFile(t, src.path(SeedDir+"/user-data"), cloudConfigFor(t, []byte(marshal(t, secondaryDoc(t))), "", "'0600'"), 0o600)
	doc, origin, err := Load(src, "")
	if err != nil {
		t.Fatal(err)
	}
	if origin != "role-file:"+RoleFile || doc.Role != RolePrimary {
		t.Errorf("origin %s role %s", origin, doc.Role)
	}
}

func TestLoadRefusesUnsafeRoleFile(t *testing.T) {
	doc := []byte(marshal(t, primaryDoc(t)))
	for _, tc := range []struct {
		name, want string
		setup      func(t *testing.T, src *Sources)
	}{
		{"mode 0644", "mode 0644", func(t *testing.T, src *Sources) { putFile(t, src.path(RoleFile), doc, 0o644) }},
		{"mode 0640", "mode 0640", func(t *testing.T, src *Sources) { putFile(t, src.path(RoleFile), doc, 0o640) }},
		{"mode 0602", "mode 0602", func(t *testing.T, src *Sources) { putFile(t, src.path(RoleFile), doc, 0o602) }},
		{"other owner", "owned by uid", func(t *testing.T, src *Sources) {
			putFile(t, src.path(RoleFile), doc, 0o600)
			src.Owner = os.Getuid() + 1
		}},
		{"symlink", "symbolic link", func(t *testing.T, src *Sources) {
			target := filepath.Join(src.Root, "elsewhere.yaml")
			putFile(t, target, doc, 0o600)
			os.MkdirAll(filepath.Dir(src.path(RoleFile)), 0o755)
			if err := os.Symlink(target, src.path(RoleFile)); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory", "not a regular file", func(t *testing.T, src *Sources) {
			os.MkdirAll(src.path(RoleFile), 0o700)
		}},
		{"too large", "larger than", func(t *testing.T, src *Sources) {
			putFile(t, src.path(RoleFile), append(doc, bytes.Repeat([]byte("#"), MaxSize)...), 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := testSources(t)
			tc.setup(t, &src)
			// A valid seed must not be used as a fallback for a refused role file.
			putFile(t, src.path(SeedDir+"/user-data"), cloudConfigFor(t, doc, "", "'0600'"), 0o600)
			_, _, err := Load(src, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func TestLoadSeedDir(t *testing.T) {
	doc := []byte(marshal(t, secondaryDoc(t)))
	for _, tc := range []struct{ name, encoding, perm, dir string }{
		{"plain", "", "'0600'", SeedDir},
		{"b64", "b64", "'0600'", SeedDir},
		{"gz+b64", "gz+b64", "'0400'", SeedDir},
		{"yaml 1.1 octal", "b64", "0600", SeedDir},
		{"nocloud-net", "", "'0600'", SeedDirNet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := testSources(t)
			putFile(t, src.path(tc.dir+"/user-data"), cloudConfigFor(t, doc, tc.encoding, tc.perm), 0o600)
			got, origin, err := Load(src, "")
			if err != nil {
				t.Fatal(err)
			}
			if origin != "nocloud-seed:"+tc.dir+"/user-data" || got.Node != "ss2" {
				t.Errorf("origin %s node %s", origin, got.Node)
			}
		})
	}
}

func TestLoadSeedRejects(t *testing.T) {
	m := material(t)
	good := []byte(marshal(t, secondaryDoc(t)))
	bad := secondaryDoc(t)
	bad.Node = `a"; DROP ROLE x; --`
	for _, tc := range []struct {
		name, want string
		userData   []byte
	}{
		{"world-readable role file", "permissions: 0644", cloudConfigFor(t, good, "b64", "'0644'")},
		{"no permissions", "permissions: missing", cloudConfigFor(t, good, "b64", "")},
		{"bad permissions", "not an octal mode", cloudConfigFor(t, good, "b64", "rw-------")},
		{"unknown encoding", "encoding", bytes.Replace(cloudConfigFor(t, good, "b64", "'0600'"), []byte("encoding: b64"), []byte("encoding: base32"), 1)},
		{"bad base64", "not valid base64", append(cloudConfigFor(t, good, "b64", "'0600'"), "      ==AA\n"...)},
		{"two entries", "more than one entry", append(cloudConfigFor(t, good, "b64", "'0600'"), []byte("  - path: "+RoleFile+"\n    content: x\n")...)},
		{"other owner", "owner", bytes.Replace(cloudConfigFor(t, good, "b64", "'0600'"), []byte("owner: root:root"), []byte("owner: xroad:xroad"), 1)},
		{"invalid document", "key node", cloudConfigFor(t, []byte(marshal(t, bad)), "b64", "'0600'")},
		{"strict document", "unknown key at the top level", cloudConfigFor(t, append(append([]byte(nil), good...), "rolee: x\n"...), "", "'0600'")},
		{"password as a key", "unknown key at the top level", cloudConfigFor(t, append(append([]byte(nil), good...), testPassword+": x\n"...), "", "'0600'")},
		{"second YAML document", "second YAML document", append(cloudConfigFor(t, good, "b64", "'0600'"), "---\n#cloud-config\nwrite_files: []\n"...)},
		{"too large", "larger than", append(cloudConfigFor(t, good, "b64", "'0600'"), bytes.Repeat([]byte("# padding\n"), maxUserData/10+1)...)},
		{"broken cloud-config", "not valid #cloud-config", []byte("#cloud-config\nwrite_files: [\n  " + testPassword + "\n")},
		{"cloud-config type error", "not valid #cloud-config", []byte("#cloud-config\nwrite_files:\n  - path: " + RoleFile + "\n    content: {a: " + testPassword + "}\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := testSources(t)
			putFile(t, src.path(SeedDir+"/user-data"), tc.userData, 0o600)
			_, _, err := Load(src, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
			assertNoSecrets(t, err.Error(), m.secrets()...)
		})
	}
}

func TestLoadNothingFound(t *testing.T) {
	src, _ := testSources(t)
	putFile(t, src.path(SeedDir+"/user-data"), []byte("#!/bin/sh\necho hi\n"), 0o600)
	putFile(t, src.path(SeedDirNet+"/user-data"), []byte("#cloud-config\nhostname: x\n"), 0o600)
	_, _, err := Load(src, "")
	if !errors.Is(err, ErrNoMetadata) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"not #cloud-config", "no write_files entry"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// makeISO writes a NoCloud seed ISO as cloud-localds does: ISO9660 with
// Rock Ridge and Joliet names, volume identifier cidata.
func makeISO(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	d, err := diskfs.Create(path, 4<<20, diskfs.SectorSizeDefault)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.LogicalBlocksize = 2048
	fsys, err := d.CreateFilesystem(disk.FilesystemSpec{FSType: filesystem.TypeISO9660, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	writeFS(t, fsys, files)
	err = fsys.(*iso9660.FileSystem).Finalize(iso9660.FinalizeOptions{VolumeIdentifier: CidataLabel, RockRidge: true, Joliet: true})
	if err != nil {
		t.Fatal(err)
	}
}

func makeFAT(t *testing.T, path string, typ filesystem.Type, size int64, label string, files map[string][]byte) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	d, err := diskfs.Create(path, size, diskfs.SectorSizeDefault)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fsys, err := d.CreateFilesystem(disk.FilesystemSpec{FSType: typ, VolumeLabel: label})
	if err != nil {
		t.Fatal(err)
	}
	writeFS(t, fsys, files)
}

func writeFS(t *testing.T, fsys filesystem.FileSystem, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		f, err := fsys.OpenFile("/"+name, os.O_CREATE|os.O_RDWR)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

func seedFiles(t *testing.T, doc *Document, encoding string) map[string][]byte {
	return map[string][]byte{
		"user-data": cloudConfigFor(t, []byte(marshal(t, doc)), encoding, "'0600'"),
		"meta-data": []byte("instance-id: iid-" + doc.Node + "\nlocal-hostname: " + doc.Node + "\n"),
	}
}

func TestLoadCidataISO(t *testing.T) {
	src, _ := testSources(t)
	// udev's link is relative: by-label/cidata -> ../../sr0
	makeISO(t, src.path("/dev/sr0"), seedFiles(t, secondaryDoc(t), "b64"))
	os.MkdirAll(src.path(LabelDir), 0o755)
	if err := os.Symlink("../../sr0", src.path(LabelDir+"/cidata")); err != nil {
		t.Fatal(err)
	}
	doc, origin, err := Load(src, "")
	if err != nil {
		t.Fatal(err)
	}
	if origin != "cidata:"+LabelDir+"/cidata" || doc.Node != "ss2" {
		t.Errorf("origin %s node %s", origin, doc.Node)
	}
}

func TestLoadCidataFAT(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  filesystem.Type
		size int64
	}{
		{"fat12", filesystem.TypeFat12, 2 << 20},
		{"fat32", filesystem.TypeFat32, 40 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := testSources(t)
			makeFAT(t, src.path(LabelDir+"/CIDATA"), tc.typ, tc.size, "CIDATA", seedFiles(t, primaryDoc(t), ""))
			doc, origin, err := Load(src, "")
			if err != nil {
				t.Fatal(err)
			}
			if origin != "cidata:"+LabelDir+"/CIDATA" || doc.Role != RolePrimary {
				t.Errorf("origin %s role %s", origin, doc.Role)
			}
		})
	}
}

func TestLoadCidataRejects(t *testing.T) {
	t.Run("wrong label", func(t *testing.T) {
		src, _ := testSources(t)
		makeFAT(t, src.path(LabelDir+"/cidata"), filesystem.TypeFat12, 2<<20, "OTHER", seedFiles(t, primaryDoc(t), ""))
		if _, _, err := Load(src, ""); err == nil || !strings.Contains(err.Error(), "label") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no user-data", func(t *testing.T) {
		src, _ := testSources(t)
		makeISO(t, src.path(LabelDir+"/cidata"), map[string][]byte{"meta-data": []byte("instance-id: x\n")})
		if _, _, err := Load(src, ""); err == nil || !strings.Contains(err.Error(), "no user-data") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("not a file system", func(t *testing.T) {
		src, _ := testSources(t)
		putFile(t, src.path(LabelDir+"/cidata"), bytes.Repeat([]byte{0x5a}, 1<<20), 0o600)
		if _, _, err := Load(src, ""); err == nil || !strings.Contains(err.Error(), "neither ISO9660 nor FAT") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestFreezeAndLoad(t *testing.T) {
	src, log := testSources(t)
	primary := primaryDoc(t)
	if err := Freeze(src, primary); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(src.path(frozenFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("frozen copy mode %v", fi.Mode())
	}
	if entries, _ := os.ReadDir(filepath.Dir(src.path(frozenFile))); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	// Freezing the same document again is harmless.
	if err := Freeze(src, primary); err != nil {
		t.Errorf("second freeze: %v", err)
	}

	// A new seed says this node is a secondary now: the frozen role wins.
	putFile(t, src.path(SeedDir+"/user-data"), cloudConfigFor(t, []byte(marshal(t, secondaryDoc(t))), "b64", "'0600'"), 0o600)
	doc, origin, err := Load(src, "")
	if err != nil {
		t.Fatal(err)
	}
	if origin != "frozen:"+frozenFile || doc.Role != RolePrimary {
		t.Errorf("origin %s role %s", origin, doc.Role)
	}
	if !strings.Contains(log.String(), "conflicts with the frozen copy") || !strings.Contains(log.String(), "role") {
		t.Errorf("conflict not reported:\n%s", log)
	}
	assertNoSecrets(t, log.String(), material(t).secrets()...)

	// Freezing a different document never replaces the copy.
	before, _ := os.ReadFile(src.path(frozenFile))
	if err := Freeze(src, secondaryDoc(t)); err == nil {
		t.Error("frozen copy replaced")
	}
	after, _ := os.ReadFile(src.path(frozenFile))
	if !bytes.Equal(before, after) {
		t.Error("frozen copy changed")
	}

	// Even an explicit --metadata does not override it.
	explicit := filepath.Join(t.TempDir(), "x.yaml")
	putFile(t, explicit, []byte(marshal(t, secondaryDoc(t))), 0o600)
	if doc, _, err := Load(src, explicit); err != nil || doc.Role != RolePrimary {
		t.Errorf("explicit over frozen: %v", err)
	}
}

func TestFrozenCopyQuietWhenSourcesAgree(t *testing.T) {
	src, log := testSources(t)
	d := secondaryDoc(t)
	putFile(t, src.path(RoleFile), []byte(marshal(t, d)), 0o600)
	if err := Freeze(src, d); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(src, ""); err != nil {
		t.Fatal(err)
	}
	if log.Len() != 0 {
		t.Errorf("unexpected warning: %s", log)
	}
	// A changed password is no identity change, but still worth a warning.
	d2 := secondaryDoc(t)
	d2.ServerconfPassword = "An0ther-S3cret!Passw0rd"
	putFile(t, src.path(RoleFile), []byte(marshal(t, d2)), 0o600)
	if _, _, err := Load(src, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "differs from the frozen copy") || strings.Contains(log.String(), "An0ther") {
		t.Errorf("log: %s", log)
	}
}

func TestFrozenCopyMustBePrivate(t *testing.T) {
	src, _ := testSources(t)
	if err := Freeze(src, primaryDoc(t)); err != nil {
		t.Fatal(err)
	}
	os.Chmod(src.path(frozenFile), 0o644)
	if _, _, err := Load(src, ""); err == nil || !strings.Contains(err.Error(), "mode 0644") {
		t.Fatalf("got %v", err)
	}
}

// snapshot records every path under root with its mode and content hash.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Lstat(p)
		var sum [32]byte
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			sum = sha256.Sum256(data)
		}
		fmt.Fprintf(&b, "%s %v %x\n", p, fi.Mode(), sum)
		return nil
	})
	return b.String()
}

func TestRejectedInputChangesNothing(t *testing.T) {
	bad := primaryDoc(t)
	bad.Options.HealthCheckPort = 5433
	badText := []byte(marshal(t, bad))

	t.Run("role file", func(t *testing.T) {
		src, _ := testSources(t)
		putFile(t, src.path(RoleFile), badText, 0o600)
		before := snapshot(t, src.Root)
		if _, _, err := Load(src, ""); err == nil {
			t.Fatal("accepted")
		}
		if after := snapshot(t, src.Root); after != before {
			t.Errorf("disk changed:\n%s\n%s", before, after)
		}
	})
	t.Run("cidata", func(t *testing.T) {
		src, _ := testSources(t)
		makeISO(t, src.path(LabelDir+"/cidata"), map[string][]byte{"user-data": cloudConfigFor(t, badText, "b64", "'0600'")})
		before := snapshot(t, src.Root)
		if _, _, err := Load(src, ""); err == nil || !strings.Contains(err.Error(), "options.healthCheckPort") {
			t.Fatalf("got %v", err)
		}
		if after := snapshot(t, src.Root); after != before {
			t.Errorf("disk changed")
		}
	})
	t.Run("freeze", func(t *testing.T) {
		src, _ := testSources(t)
		before := snapshot(t, src.Root)
		if err := Freeze(src, bad); err == nil {
			t.Fatal("froze an invalid document")
		}
		if after := snapshot(t, src.Root); after != before {
			t.Errorf("disk changed:\n%s\n%s", before, after)
		}
	})
}
