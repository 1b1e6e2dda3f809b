package metadata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func hostNames(hs []Host) string {
	var n []string
	for _, h := range hs {
		n = append(n, h.Name)
	}
	return strings.Join(n, ",")
}

// A three-node database: db2 is promoted, then db1 and db3 rejoin it.
func TestDatabasePromotedAndRejoined(t *testing.T) {
	withDB3 := func(d *Document) *Document {
		d.CentralServer.Database.Standbys = append(d.CentralServer.Database.Standbys, Host{Name: "db3", Address: "10.30.0.23"})
		return d
	}
	db1, db2, db3 := withDB3(csDoc(t, RoleCSDBPrimary, "db1")), withDB3(csDoc(t, RoleCSDBStandby, "db2")), withDB3(csDoc(t, RoleCSDBStandby, "db3"))

	p, err := db2.DatabasePromoted()
	if err != nil {
		t.Fatal(err)
	}
	if db := p.CentralServer.Database; p.Role != RoleCSDBPrimary || db.Primary.Name != "db2" || hostNames(db.Standbys) != "db1,db3" {
		t.Errorf("promoted: role %s, primary %s, standbys %s", p.Role, db.Primary.Name, hostNames(db.Standbys))
	}
	if db2.Role != RoleCSDBStandby || db2.CentralServer.Database.Primary.Name != "db1" {
		t.Error("DatabasePromoted changed its receiver")
	}
	for _, d := range []*Document{db1, db3} {
		r, err := d.DatabaseRejoined("10.30.0.22")
		if err != nil {
			t.Fatalf("%s: %v", d.Node, err)
		}
		db := r.CentralServer.Database
		if r.Role != RoleCSDBStandby || db.Primary.Name != "db2" || hostNames(db.Standbys) != "db1,db3" || r.CentralServer.Admin != (Credentials{}) {
			t.Errorf("%s rejoined: role %s, primary %s, standbys %s, admin %q", d.Node, r.Role, db.Primary.Name, hostNames(db.Standbys), r.CentralServer.Admin.User)
		}
	}
	for _, c := range []struct {
		doc     *Document
		primary string
		want    string
	}{
		{db1, "db1", "this node"},
		{db1, "db9", "not a database node"},
		{csDoc(t, RoleCSNode, "cs1"), "db2", "only a database node"},
	} {
		if _, err := c.doc.DatabaseRejoined(c.primary); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s rejoin %s: %v, want %q", c.doc.Node, c.primary, err, c.want)
		}
	}
	if _, err := db1.DatabasePromoted(); err == nil {
		t.Error("the database primary was promoted")
	}
}

// The saved database topology overlays the frozen document and holds no secret.
func TestDatabaseTopologyRoundTrip(t *testing.T) {
	db2 := csDoc(t, RoleCSDBStandby, "db2")
	p, err := db2.DatabasePromoted()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "topology.yaml")
	if err := p.Topology("promote", time.Now()).Save(file); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(file)
	if strings.Contains(string(raw), testPassword) || strings.Contains(string(raw), "secondaries") {
		t.Errorf("topology file:\n%s", raw)
	}
	topo, err := LoadTopology(file)
	if err != nil {
		t.Fatal(err)
	}
	got := db2.WithTopology(topo)
	if got.Role != RoleCSDBPrimary || got.CentralServer.Database.Primary.Name != "db2" || hostNames(got.CentralServer.Database.Standbys) != "db1" {
		t.Errorf("overlaid: %s primary %s standbys %s", got.Role, got.CentralServer.Database.Primary.Name, hostNames(got.CentralServer.Database.Standbys))
	}
	if got.CentralServer.Database.Password != testPassword || db2.CentralServer.Database.Primary.Name != "db1" {
		t.Error("the overlay lost the document's secrets or changed the frozen document")
	}

	for _, bad := range []string{
		"role: cs-db-primary\nchanged: 2026-01-01T00:00:00Z\nby: promote\n",
		"role: primary\ndatabase:\n  primary: {name: db2, address: 10.30.0.22}\nchanged: 2026-01-01T00:00:00Z\nby: promote\n",
		"role: cs-node\nchanged: 2026-01-01T00:00:00Z\nby: promote\n",
	} {
		if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadTopology(file); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
