package metadata

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
)

// csDoc is a valid central-server HA document for role on node, in a cluster
// of a database primary (db1), a standby (db2) and two central servers.
func csDoc(t *testing.T, role Role, node string) *Document {
	m := material(t)
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	d := &Document{
		Version: Version, Cluster: "cs-cluster", Role: role, Node: node,
		TLS: TLS{CA: m.caPEM, Cert: issue(m.caCert, m.caKey, key.Public(), certOpts{cn: node}), Key: pkcs8PEM(key)},
		CentralServer: &CentralServer{
			Database: CSDatabase{
				Primary:  Host{Name: "db1", Address: "10.30.0.21"},
				Standbys: []Host{{Name: "db2", Address: "10.30.0.22"}},
				Port:     5432, Name: "centerui", Owner: "centerui", Password: testPassword,
				ReplicationUser: "standby", ReplicationPassword: testPassword + "r",
			},
			Nodes: []CSNode{{Name: "cs1", Address: "10.30.0.11", HANodeName: "node_0"}, {Name: "cs2", Address: "10.30.0.12", HANodeName: "node_1"}},
		},
	}
	if role != RoleCSDBStandby {
		d.CentralServer.Admin = Credentials{User: "xrdadmin", Password: testPassword + "a"}
	}
	return d
}

func TestCentralServerRolesValidate(t *testing.T) {
	for _, c := range []struct {
		role Role
		node string
	}{{RoleCSDBPrimary, "db1"}, {RoleCSDBStandby, "db2"}, {RoleCSNode, "cs2"}} {
		d := csDoc(t, c.role, c.node)
		if err := d.Validate(); err != nil {
			t.Errorf("%s: %v", c.role, err)
		}
		text, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(text); err != nil {
			t.Errorf("%s: round trip: %v", c.role, err)
		}
		for _, bad := range []string{"options:", "primary:\n  name", "serverconfPassword"} {
			if strings.Contains(string(text), "\n"+bad) {
				t.Errorf("%s: encoded document carries the security-server field %q", c.role, bad)
			}
		}
	}
}

func TestCentralServerRolesReject(t *testing.T) {
	cases := []struct {
		name  string
		role  Role
		node  string
		edit  func(d *Document)
		field string
	}{
		{"no centralServer", RoleCSNode, "cs1", func(d *Document) { d.CentralServer = nil }, "key centralServer"},
		{"security-server primary on a cs role", RoleCSNode, "cs1", func(d *Document) { d.Primary.Name = "ss1" }, "key primary"},
		{"serverconf password on a cs role", RoleCSDBPrimary, "db1", func(d *Document) { d.ServerconfPassword = testPassword }, "key serverconfPassword"},
		{"health check on a cs role", RoleCSDBPrimary, "db1", func(d *Document) { d.Options.HealthCheckPort = 5588 }, "key options"},
		{"centralServer on a security server", RolePrimary, "ss1", nil, "key centralServer"},
		{"db primary not its node", RoleCSDBPrimary, "db2", nil, "key node"},
		{"standby not listed", RoleCSDBStandby, "db1", nil, "key node"},
		{"cs node not listed", RoleCSNode, "db1", nil, "key node"},
		{"duplicate names across lists", RoleCSNode, "cs1", func(d *Document) { d.CentralServer.Database.Standbys[0].Name = "cs2" }, "duplicate of centralServer.database.standbys[0]"},
		{"standby name too long for its slot", RoleCSNode, "cs1", func(d *Document) {
			d.CentralServer.Database.Standbys[0].Name = "dbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		}, "key centralServer.database.standbys[0].name"},
		{"duplicate ha-node-name", RoleCSNode, "cs1", func(d *Document) { d.CentralServer.Nodes[1].HANodeName = "node_0" }, "key centralServer.nodes[1].haNodeName"},
		{"ha-node-name injection", RoleCSNode, "cs1", func(d *Document) { d.CentralServer.Nodes[0].HANodeName = "node_0\n[proxy]" }, "key centralServer.nodes[0].haNodeName"},
		{"database name injection", RoleCSDBPrimary, "db1", func(d *Document) { d.CentralServer.Database.Name = `x"; DROP DATABASE y; --` }, "key centralServer.database.name"},
		{"replication user is the owner", RoleCSDBPrimary, "db1", func(d *Document) { d.CentralServer.Database.ReplicationUser = "centerui" }, "key centralServer.database.replicationUser"},
		{"short replication password", RoleCSDBStandby, "db2", func(d *Document) { d.CentralServer.Database.ReplicationPassword = "short" }, "key centralServer.database.replicationPassword"},
		{"primary address newline", RoleCSDBStandby, "db2", func(d *Document) { d.CentralServer.Database.Primary.Address = "10.0.0.1\nhost=evil" }, "key centralServer.database.primary.address"},
		{"bad port", RoleCSNode, "cs1", func(d *Document) { d.CentralServer.Database.Port = 0 }, "key centralServer.database.port"},
		{"cs node without admin", RoleCSNode, "cs1", func(d *Document) { d.CentralServer.Admin = Credentials{} }, "key centralServer.admin.user"},
		{"admin on a standby", RoleCSDBStandby, "db2", func(d *Document) { d.CentralServer.Admin = Credentials{User: "xrdadmin", Password: testPassword} }, "key centralServer.admin"},
		{"database primary without admin", RoleCSDBPrimary, "db1", func(d *Document) { d.CentralServer.Admin = Credentials{} }, "key centralServer.admin.user"},
		{"admin is the owner", RoleCSNode, "cs1", func(d *Document) { d.CentralServer.Admin.User = "centerui" }, "key centralServer.admin.user"},
		{"no central server nodes", RoleCSDBPrimary, "db1", func(d *Document) { d.CentralServer.Nodes = nil }, "key centralServer.nodes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			role := c.role
			if role == RolePrimary {
				d := primaryDoc(t)
				d.CentralServer = csDoc(t, RoleCSNode, "cs1").CentralServer
				expectFieldError(t, d, c.field)
				return
			}
			d := csDoc(t, role, c.node)
			if c.edit != nil {
				c.edit(d)
			}
			expectFieldError(t, d, c.field)
		})
	}
}

func expectFieldError(t *testing.T, d *Document, field string) {
	t.Helper()
	err := d.Validate()
	if err == nil || !strings.Contains(err.Error(), field) {
		t.Fatalf("error = %v, want one naming %q", err, field)
	}
	for _, s := range []string{testPassword, d.TLS.Key} {
		if strings.Contains(err.Error(), s) {
			t.Fatal("error text holds a secret")
		}
	}
}

func TestCentralServerRedacted(t *testing.T) {
	d := csDoc(t, RoleCSNode, "cs1")
	r := d.Redacted()
	text, _ := r.Marshal()
	if strings.Contains(string(text), testPassword) {
		t.Fatalf("redacted document holds a password:\n%s", text)
	}
	if d.CentralServer.Database.Password != testPassword {
		t.Fatal("Redacted changed the original")
	}
}

func TestSlotName(t *testing.T) {
	if got := SlotName("db-2"); got != "standby_db_2" {
		t.Errorf("SlotName = %q", got)
	}
}

// TestDatabaseNodeNameFitsItsSlot: a database node name whose slot
// standby_<name> fits PostgreSQL's 63 bytes is taken, one byte more is not.
func TestDatabaseNodeNameFitsItsSlot(t *testing.T) {
	fits := "d" + strings.Repeat("b", 54)
	if msg := DatabaseNodeNameProblem(fits); msg != "" || len(SlotName(fits)) != 63 {
		t.Errorf("%d characters: %q (slot %d bytes)", len(fits), msg, len(SlotName(fits)))
	}
	if msg := DatabaseNodeNameProblem(fits + "b"); !strings.Contains(msg, "at most 55 characters") {
		t.Errorf("%d characters: %q", len(fits)+1, msg)
	}
}
