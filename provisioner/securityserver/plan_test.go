package securityserver

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/phase"
)

// clusterDoc is node's document in a cluster of ss1 and n secondaries.
func clusterDoc(role metadata.Role, node string, n int) *metadata.Document {
	d := &metadata.Document{Version: metadata.Version, Cluster: "test", Role: role, Node: node,
		Primary:            metadata.Primary{Name: "ss1", Address: "10.0.0.11", HostKey: "ssh-ed25519 AAAA"},
		ServerconfPassword: "serverconf-Secret-0123456789",
		TLS:                metadata.TLS{CA: "CA PEM", Cert: "CERT PEM", Key: "KEY-SECRET"},
	}
	for i := 0; i < n; i++ {
		d.Secondaries = append(d.Secondaries, metadata.Member{Name: fmt.Sprintf("ss%d", i+2), Address: fmt.Sprintf("10.0.0.%d", 12+i)})
	}
	return d
}

func node(t *testing.T, profile string, d *metadata.Document) *Node {
	t.Helper()
	f, err := profiles.Resolve(profile, "")
	if err != nil {
		t.Fatal(err)
	}
	return &Node{&phase.Context{Doc: d, Facts: f, State: nodestate.Open(t.TempDir())}}
}

func phaseNames(phases []engine.Phase) []string {
	var names []string
	for _, p := range phases {
		names = append(names, p.Name)
	}
	return names
}

// TestPlanPhases: each role runs the guide's steps in the guide's order.
func TestPlanPhases(t *testing.T) {
	admin := &metadata.AdminUser{Name: "xadmin", PasswordHash: "$6$salt$hash"}
	doc := clusterDoc(metadata.RolePrimary, "ss1", 2)
	doc.AdminUser = admin
	primary := phaseNames(Plan(node(t, "ubuntu-24.04", doc).Context))
	// The TLS identities exist before any secondary can sync; db.properties
	// names the serverconf instance before the package's setup runs there.
	want := []string{"stop-services", "certificates", "tls", "serverconf-instance", "local-access", "replication", "serverconf-start", "roles",
		"sync-user", "ssh-host-key", "local-ini", "members", "default-instance", "db-properties", "serverconf-database", "messagelog-database", "op-monitor-database", "node-ini",
		"admin-user", "verify", "services"}
	if !slices.Equal(primary, want) {
		t.Errorf("primary phases %v\nwant %v", primary, want)
	}
	doc = clusterDoc(metadata.RoleSecondary, "ss2", 2)
	doc.AdminUser = admin
	secondary := phaseNames(Plan(node(t, "ubuntu-24.04", doc).Context))
	if slices.Contains(secondary, "certificates") || slices.Contains(secondary, "serverconf-database") {
		t.Errorf("secondary phases %v: a secondary makes neither the TLS identities nor serverconf", secondary)
	}
	// The package gives the admin user a secondary's groups only once
	// node.ini says slave.
	for _, order := range [][2]string{{"wait-primary", "basebackup"}, {"basebackup", "standby"}, {"standby", "serverconf-start"},
		{"serverconf-start", "initial-sync"}, {"initial-sync", "sync"}, {"node-ini", "ui-groups"}, {"db-properties", "messagelog-database"},
		{"default-instance", "messagelog-database"}, {"op-monitor-database", "node-ini"}, {"admin-user", "wait-primary"},
		{"ui-groups", "admin-user"}, {"admin-user", "verify"}, {"sync", "verify"}, {"verify", "services"}} {
		if i, j := slices.Index(secondary, order[0]), slices.Index(secondary, order[1]); i < 0 || j < 0 || i > j {
			t.Errorf("secondary phases %v: want %s before %s", secondary, order[0], order[1])
		}
	}
}

// TestWalSendersMatchAcrossTheCluster: every node of a cluster holds the
// same max_wal_senders whatever its own document lists — the documents of
// one cluster differ in length once a secondary is added, and PostgreSQL 12
// and later refuse hot standby below the primary's value — and the value
// covers every secondary's base backup (two walsenders each with -X stream)
// at once in the largest cluster a document may list.
func TestWalSendersMatchAcrossTheCluster(t *testing.T) {
	re := regexp.MustCompile(`(?m)^max_wal_senders = (\d+)$`)
	for _, profile := range profiles.Names() {
		seen := map[string]string{}
		for _, n := range []int{1, 2, 9, 10, metadata.MaxSecondaries} {
			settings := map[string]string{
				fmt.Sprintf("primary listing %d", n):   node(t, profile, clusterDoc(metadata.RolePrimary, "ss1", n)).primarySettings(),
				fmt.Sprintf("secondary listing %d", n): node(t, profile, clusterDoc(metadata.RoleSecondary, "ss2", n)).standbySettings(),
			}
			for who, s := range settings {
				m := re.FindStringSubmatch(s)
				if m == nil {
					t.Fatalf("%s %s: no max_wal_senders in\n%s", profile, who, s)
				}
				seen[m[1]] = who
			}
		}
		if len(seen) != 1 {
			t.Errorf("%s: max_wal_senders differs across the cluster: %v", profile, seen)
		}
		for v := range seen {
			if got, _ := strconv.Atoi(v); got < 2*metadata.MaxSecondaries {
				t.Errorf("%s: max_wal_senders = %d, below two per secondary for %d secondaries", profile, got, metadata.MaxSecondaries)
			}
		}
	}
}

// PostgreSQL 9.2's password_encryption is a boolean: 'md5' there stops the
// server starting; every other version takes the method's name.
func TestPasswordEncryptionSetting(t *testing.T) {
	for _, c := range []struct{ profile, pg, want string }{
		{"rhel-7", "9.2", "password_encryption = 'on'"},
		{"rhel-7", "12", "password_encryption = 'md5'"},
		{"rhel-8", "10", "password_encryption = 'md5'"},
		{"ubuntu-24.04", "16", "password_encryption = 'scram-sha-256'"},
	} {
		f, err := profiles.Resolve(c.profile, c.pg)
		if err != nil {
			t.Fatal(err)
		}
		n := &Node{&phase.Context{Doc: clusterDoc(metadata.RolePrimary, "ss1", 2), Facts: f, State: nodestate.Open(t.TempDir())}}
		if got := n.primarySettings(); !strings.Contains(got+"\n", c.want+"\n") {
			t.Errorf("%s pg%s: want %q in\n%s", c.profile, c.pg, c.want, got)
		}
	}
}

// WAL retention grows with the cluster: every secondary's base backup ends
// a segment, and with ten taking theirs at once the guide's 8 segments
// (128 MB) were gone before a slower secondary's standby started ("requested
// WAL segment has already been removed", seen in a 1 + 10 boot).
func TestWalRetentionGrowsWithSecondaries(t *testing.T) {
	for _, c := range []struct {
		profile, pg string
		n           int
		want        string
	}{
		{"ubuntu-24.04", "16", 2, "wal_keep_size = '192MB'"},
		{"ubuntu-24.04", "16", 10, "wal_keep_size = '448MB'"},
		{"rhel-8", "10", 10, "wal_keep_segments = '28'"},
		{"rhel-7", "9.2", 1, "wal_keep_segments = '10'"},
	} {
		f, err := profiles.Resolve(c.profile, c.pg)
		if err != nil {
			t.Fatal(err)
		}
		n := &Node{&phase.Context{Doc: clusterDoc(metadata.RolePrimary, "ss1", c.n), Facts: f, State: nodestate.Open(t.TempDir())}}
		if got := n.primarySettings(); !strings.Contains(got+"\n", c.want+"\n") {
			t.Errorf("%s pg%s with %d secondaries: want %q in\n%s", c.profile, c.pg, c.n, c.want, got)
		}
	}
}

// TestMembersPlan: letting in added secondaries touches only what depends
// on the list — WAL retention (reloaded, never a restart), the replication
// roles, the sync keys and the replicated member record.
func TestMembersPlan(t *testing.T) {
	n := node(t, "ubuntu-24.04", clusterDoc(metadata.RolePrimary, "ss1", 3))
	plan := MembersPlan(n.Context)
	if got := strings.Join(phaseNames(plan), ","); got != "replication,serverconf-reload,roles,sync-user,members" {
		t.Errorf("phases %s", got)
	}
	var actions []string
	for _, p := range plan {
		actions = append(actions, p.Actions...)
	}
	all := strings.Join(actions, "\n")
	if !strings.Contains(all, `CREATE USER "ss4" REPLICATION`) || strings.Contains(all, "restart") {
		t.Errorf("actions:\n%s", all)
	}
}

// TestForgetPlan: letting a gone secondary out shrinks the WAL retention
// with a reload, drops only former slavenode members and rewrites the sync
// keys and the record without it, never restarting anything.
func TestForgetPlan(t *testing.T) {
	n := node(t, "ubuntu-24.04", clusterDoc(metadata.RolePrimary, "ss1", 2))
	plan := ForgetPlan(n.Context)
	if got := strings.Join(phaseNames(plan), ","); got != "replication,serverconf-reload,sync-user,former-roles,members" {
		t.Errorf("phases %s", got)
	}
	for _, p := range plan {
		if strings.Contains(strings.Join(p.Actions, "\n"), "restart") {
			t.Errorf("phase %s restarts: %v", p.Name, p.Actions)
		}
	}
}
