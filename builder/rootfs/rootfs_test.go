package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestResolveFollowsTheImagesLinks(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"usr/lib/systemd/system", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"lib":             "usr/lib",           // Debian's merged /usr
		"etc/abs":         "/usr/lib/systemd",  // absolute: starts again at the root
		"etc/up":          "../../../../../..", // cannot climb above the root
		"etc/loop":        "loop2",
		"etc/loop2":       "loop",
		"etc/escape-file": "/etc/../../../../etc/shadow",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	for in, want := range map[string]string{
		"/lib/systemd/system/x.service": "usr/lib/systemd/system/x.service",
		"/etc/abs/system":               "usr/lib/systemd/system",
		"/etc/up/etc":                   "etc",
		"/etc/escape-file":              "etc/shadow",
		"/missing/../etc":               "etc",
	} {
		got, err := Resolve(root, in)
		if err != nil || got != filepath.Join(root, want) {
			t.Errorf("Resolve(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := Resolve(root, "/etc/loop/x"); err == nil {
		t.Error("a symlink loop resolved")
	}
}

func TestResetIdentity(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"etc/machine-id":               "0123\n",
		"etc/hostname":                 "buildhost\n",
		"var/lib/dbus/machine-id":      "0123\n",
		"etc/ssh/ssh_host_rsa_key":     "secret",
		"etc/ssh/ssh_host_rsa_key.pub": "public",
		"etc/ssh/sshd_config":          "Port 22\n",
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := ResetIdentity(root); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"etc/machine-id": "", "etc/hostname": "localhost\n", "etc/ssh/sshd_config": "Port 22\n"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	for _, p := range []string{"var/lib/dbus/machine-id", "etc/ssh/ssh_host_rsa_key", "etc/ssh/ssh_host_rsa_key.pub"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s kept", p)
		}
	}
	if err := ResetIdentity(t.TempDir()); err != nil {
		t.Errorf("a root without those files: %v", err)
	}
}

func TestMountsCloseUndoesEverything(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	dir := t.TempDir()
	lower, upper, work, merged := filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{lower, upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(lower, "old"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var m Mounts
	if err := m.Overlay(merged, []string{lower}, upper, work); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(merged, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.Proc(filepath.Join(merged, "proc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(merged, "old")); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(upper, "old"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("no whiteout for a deleted file in the upper directory: %v %+v", err, st)
	}
	if entries, _ := os.ReadDir(merged); len(entries) != 0 {
		t.Errorf("still mounted: %v", entries)
	}
	if err := m.Overlay("/a,b", []string{lower}, upper, work); err == nil {
		t.Error("accepted a path overlayfs options cannot hold")
	}
}

func TestRemovePerInstall(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"etc/machine-id":                    "0123\n",
		"etc/xroad/db.properties":           "serverconf.hibernate.connection.password = x\n",
		"etc/xroad/ssl/internal.key":        "key",
		"etc/xroad/ssl/internal.crt":        "crt",
		"etc/xroad/ssl/README":              "kept",
		"etc/xroad/conf.d/local.ini":        "",
		"real/ssl/private/snakeoil.key":     "key",
		"etc/ssl/certs/ca-certificates.crt": "kept",
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The image's own absolute link: followed inside the root, never on the host.
	if err := os.Symlink("/real/ssl/private", filepath.Join(root, "etc/ssl/private")); err != nil {
		t.Fatal(err)
	}
	changed, err := RemovePerInstall(root, []string{"/etc/xroad/db.properties", "/etc/xroad/ssl/*.key", "/etc/xroad/ssl/*.crt",
		"/etc/ssl/private/*.key", "/etc/xroad.properties"}, []string{"/etc/machine-id", "/etc/nothing"})
	if err != nil {
		t.Fatal(err)
	}
	want := "/etc/machine-id /etc/ssl/private/snakeoil.key /etc/xroad/db.properties /etc/xroad/ssl/internal.crt /etc/xroad/ssl/internal.key"
	if got := strings.Join(changed, " "); got != want {
		t.Errorf("changed %s\nwant    %s", got, want)
	}
	for _, p := range []string{"etc/xroad/db.properties", "etc/xroad/ssl/internal.key", "real/ssl/private/snakeoil.key"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s kept", p)
		}
	}
	for p, want := range map[string]string{"etc/machine-id": "", "etc/xroad/ssl/README": "kept", "etc/ssl/certs/ca-certificates.crt": "kept"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	if _, err := RemovePerInstall(root, []string{"/etc/xroad/*"}, nil); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory matched: %v", err)
	}
}
