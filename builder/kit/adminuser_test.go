package kit

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/GehirnInc/crypt/sha512_crypt"

	"xroad-appliance/provisioner/metadata"
)

// The kit draws the admin password when the spec gives none, hands it back
// once and writes only its hash: into every security server's document, and
// a --reuse run keeps the hash without drawing a new password.
func TestAdminUserPasswordMadeOnce(t *testing.T) {
	spec := parseSpec(t, smallSpec)
	facts := mustResolve(t, "debian-12")
	out := filepath.Join(t.TempDir(), "kit")
	res, err := Generate(*spec, facts, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.AdminUser != DefaultAdminUser || len(res.AdminPassword) < 16 {
		t.Fatalf("admin user %q, password of %d characters", res.AdminUser, len(res.AdminPassword))
	}
	docs := kitDocs(t, out, spec)
	var hash string
	for name, d := range docs {
		if d.AdminUser == nil || d.AdminUser.Name != DefaultAdminUser {
			t.Fatalf("%s: admin user %+v", name, d.AdminUser)
		}
		if hash == "" {
			hash = d.AdminUser.PasswordHash
		} else if d.AdminUser.PasswordHash != hash {
			t.Errorf("%s: a different hash", name)
		}
	}
	if err := sha512_crypt.New().Verify(hash, []byte(res.AdminPassword)); err != nil {
		t.Fatalf("the hash does not verify the password: %v", err)
	}
	assertNotInTree(t, out, res.AdminPassword)

	again, err := Generate(*spec, facts, out, Options{Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.AdminPassword != "" {
		t.Error("a --reuse run drew a new admin password")
	}
	for name, d := range kitDocs(t, out, spec) {
		if d.AdminUser.PasswordHash != hash {
			t.Errorf("%s: --reuse changed the admin password hash", name)
		}
	}
}

// A hash in the spec is used as it is; the central servers get the admin
// user, the database nodes (no X-Road packages) do not.
func TestAdminUserFromSpec(t *testing.T) {
	const hash = "$6$saltsalt$6pc9KZ3VPChTz3Ue3a0SUdrOaxkmELNJtgJGGrs6E5qIbMBbDvm3fu4PmIRbaryf0oeq.0mRcyPVs2cZxpxqS."
	spec := parseSpec(t, csSpec+"adminUser: {name: xadmin, passwordHash: '"+hash+"'}\n")
	res, err := Generate(*spec, nil, filepath.Join(t.TempDir(), "kit"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.AdminPassword != "" {
		t.Error("a password was drawn although the spec has a hash")
	}
	for name, d := range seedDocs(t, res) {
		want := d.Role == metadata.RoleCSNode
		if got := d.AdminUser != nil; got != want {
			t.Fatalf("%s (%s): admin user present %v, want %v", name, d.Role, got, want)
		}
		if want && (d.AdminUser.Name != "xadmin" || d.AdminUser.PasswordHash != hash) {
			t.Errorf("%s: admin user %q", name, d.AdminUser.Name)
		}
	}
}

// The refusal of a wrong hash names the field and never echoes the value.
func TestAdminUserHashNotEchoed(t *testing.T) {
	const secret = "MyClearTextPassw0rd"
	_, err := ParseSpec([]byte("cluster: c\nprimary: {name: p, address: 10.0.0.1}\nsecondaries: [{name: s1, address: 10.0.0.2}]\nadminUser: {name: a, passwordHash: " + secret + "}\n"))
	if err == nil || !strings.Contains(err.Error(), "adminUser.passwordHash") || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v", err)
	}
}

// assertNotInTree fails when any file under dir holds secret.
func assertNotInTree(t *testing.T, dir, secret string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		if data, err := os.ReadFile(path); err != nil {
			return err
		} else if bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s holds the clear-text password", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
