package status

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
)

// The identity section follows the role the node was provisioned in and
// takes each item's time from its phase's stamp.
func TestIdentityOfRoles(t *testing.T) {
	facts, err := profiles.Resolve("ubuntu-24.04", "")
	if err != nil {
		t.Fatal(err)
	}
	st := nodestate.Open(t.TempDir())
	state := st.Dir()
	if err := os.MkdirAll(filepath.Join(state, "phases"), 0o755); err != nil {
		t.Fatal(err)
	}
	made := time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)
	stamp := filepath.Join(state, "phases", "initial-sync.done")
	if err := os.WriteFile(stamp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(stamp, made, made); err != nil {
		t.Fatal(err)
	}
	admin := &metadata.AdminUser{Name: "xadmin", PasswordHash: "$6$x$y"}
	secondary := &metadata.Document{Role: metadata.RoleSecondary, AdminUser: admin}
	// Promoted since: the TLS identities still came by the sync.
	promoted := &metadata.Document{Role: metadata.RolePrimary, AdminUser: admin}
	items := identityOf(&Inputs{Doc: promoted, Provisioned: secondary, Facts: facts, State: st})
	got := map[string]Identity{}
	for _, it := range items {
		got[it.Item] = it
	}
	internal := got["/etc/xroad/ssl/internal.{crt,key,p12}"]
	if internal.Origin != synced || internal.Time == nil || !internal.Time.Equal(made) {
		t.Errorf("internal: %+v", internal)
	}
	if sc := got["serverconf database"]; sc.Origin != replicated || sc.Time != nil {
		t.Errorf("serverconf: %+v", sc)
	}
	if a := got["admin user xadmin"]; a.Origin != generatedHere || a.Phase != "admin-user" {
		t.Errorf("admin user: %+v", a)
	}
	if len(items) != 6 {
		t.Errorf("%d items: %+v", len(items), items)
	}
	if db := identityOf(&Inputs{Doc: &metadata.Document{Role: metadata.RoleCSDBPrimary}, Facts: facts, State: st}); db != nil {
		t.Errorf("a database node lists %+v", db)
	}
}
