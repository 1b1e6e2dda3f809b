package securityserver

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/system"
)

// keyedDoc is the primary's document with an SSH key for each secondary.
func keyedDoc(n int) *metadata.Document {
	d := clusterDoc(metadata.RolePrimary, "ss1", n)
	for i := range d.Secondaries {
		d.Secondaries[i].SSHPublicKey = "ssh-ed25519 AAAAkey" + d.Secondaries[i].Name + "\n"
	}
	return d
}

// TestSyncUserKeysNameTheMember: each key is forced to serve-sync with the
// member's name, which serve-sync records the sync under.
func TestSyncUserKeysNameTheMember(t *testing.T) {
	p := node(t, "ubuntu-24.04", keyedDoc(2)).syncUser()
	if len(p.Files) != 1 || p.Files[0].Path != "/home/xroad-slave/.ssh/authorized_keys" || p.Files[0].Owner != "root:root" || p.Files[0].Mode != 0o644 {
		t.Fatalf("files %+v", p.Files)
	}
	want := `restrict,command="/usr/bin/xroad-node serve-sync ss2" ssh-ed25519 AAAAkeyss2 ss2
restrict,command="/usr/bin/xroad-node serve-sync ss3" ssh-ed25519 AAAAkeyss3 ss3
`
	if got := string(p.Files[0].Content); got != want {
		t.Errorf("authorized_keys\n%s\nwant\n%s", got, want)
	}
	if !slices.Contains(p.Actions, "mkdir -m 700 /home/xroad-slave/seen (owned by xroad-slave: serve-sync records each secondary's last sync there)") {
		t.Errorf("actions %q", p.Actions)
	}
}

// TestSyncUserRefusesABadName: a name that would add a word to the forced
// command is neither written nor let through.
func TestSyncUserRefusesABadName(t *testing.T) {
	d := keyedDoc(2)
	d.Secondaries[0].Name = `ss2" x`
	p := node(t, "ubuntu-24.04", d).syncUser()
	if strings.Contains(string(p.Files[0].Content), "ss2\"") {
		t.Errorf("bad line written:\n%s", p.Files[0].Content)
	}
	if _, err := p.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "member name") {
		t.Errorf("check: %v", err)
	}
	if err := p.Apply(context.Background()); err == nil {
		t.Error("applied")
	}
}

// TestSyncUserMakesTheSeenDirectory applies the phase in a temporary home
// with an existing unprivileged account as the sync user: seen belongs to
// it (0700), .ssh and authorized_keys stay root's and not writable by it,
// and a second run finds everything in place.
func TestSyncUserMakesTheSeenDirectory(t *testing.T) {
	if os.Geteuid() != 0 || !system.UserExists("nobody") {
		t.Skip("needs root and a nobody account")
	}
	n := node(t, "ubuntu-24.04", keyedDoc(1))
	home := t.TempDir()
	n.Facts.SyncUser.Name, n.Facts.SyncUser.Home = "nobody", home
	p := n.syncUser()
	ctx := context.Background()
	if ok, err := p.Check(ctx); ok || err != nil {
		t.Fatalf("check before apply: %v, %v", ok, err)
	}
	if err := p.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Check(ctx); !ok || err != nil {
		t.Fatalf("check after apply: %v, %v", ok, err)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
		dir  bool
		user string
	}{
		{filepath.Join(home, "seen"), 0o700, true, "nobody"},
		{filepath.Join(home, ".ssh"), 0o755, true, "root"},
		{filepath.Join(home, ".ssh/authorized_keys"), 0o644, false, "root"},
	} {
		st, err := os.Lstat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := system.LookupIDs(c.user)
		if st.IsDir() != c.dir || st.Mode().Perm() != c.mode || st.Sys().(*syscall.Stat_t).Uid != ids.UID {
			t.Errorf("%s: %v uid %d, want %v owned by %s", c.path, st.Mode(), st.Sys().(*syscall.Stat_t).Uid, c.mode, c.user)
		}
	}
	// A seen directory found with another mode is put back.
	if err := os.Chmod(filepath.Join(home, "seen"), 0o755); err != nil {
		t.Fatal(err)
	}
	if ok, _ := p.Check(ctx); ok {
		t.Fatal("a 0755 seen directory passes the check")
	}
	if err := p.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Check(ctx); !ok || err != nil {
		t.Fatalf("check after the second apply: %v, %v", ok, err)
	}
}

// TestSyncUserFollowsNoLinkAtSeen: the sync user owns its home; a link it
// left at seen is refused, not followed by the chown.
func TestSyncUserFollowsNoLinkAtSeen(t *testing.T) {
	if os.Geteuid() != 0 || !system.UserExists("nobody") {
		t.Skip("needs root and a nobody account")
	}
	n := node(t, "ubuntu-24.04", keyedDoc(1))
	home, target := t.TempDir(), t.TempDir()
	n.Facts.SyncUser.Name, n.Facts.SyncUser.Home = "nobody", home
	if err := os.Symlink(target, filepath.Join(home, "seen")); err != nil {
		t.Fatal(err)
	}
	p := n.syncUser()
	if ok, err := p.Check(context.Background()); ok || err != nil {
		t.Fatalf("check: %v, %v", ok, err)
	}
	if err := p.Apply(context.Background()); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("apply: %v", err)
	}
	if st, _ := os.Stat(target); st.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Fatal("the link's target was given to the sync user")
	}
}
