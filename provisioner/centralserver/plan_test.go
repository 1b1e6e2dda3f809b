package centralserver

import (
	"slices"
	"strings"
	"testing"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/phase"
)

const (
	dbPassword    = "db-Secret-0123456789"
	replPassword  = "repl-Sec:ret\\0123456789"
	adminPassword = "admin-Secret-0123456789"
)

func doc(role metadata.Role, node string) *metadata.Document {
	d := &metadata.Document{Version: metadata.Version, Cluster: "cs", Role: role, Node: node,
		TLS: metadata.TLS{CA: "CA PEM", Cert: "CERT PEM", Key: "KEY-SECRET"},
		CentralServer: &metadata.CentralServer{
			Database: metadata.CSDatabase{
				Primary: metadata.Host{Name: "db1", Address: "10.0.0.21"}, Standbys: []metadata.Host{{Name: "db2", Address: "10.0.0.22"}},
				Port: 5432, Name: "centerui", Owner: "centerui", Password: dbPassword,
				ReplicationUser: "standby", ReplicationPassword: replPassword,
			},
			Nodes: []metadata.CSNode{{Name: "cs1", Address: "10.0.0.11", HANodeName: "node_0"}, {Name: "cs2", Address: "10.0.0.12", HANodeName: "node_1"}},
		},
	}
	if role != metadata.RoleCSDBStandby {
		d.CentralServer.Admin = metadata.Credentials{User: "xrdadmin", Password: adminPassword}
	}
	return d
}

func facts(t *testing.T, profile string) *profiles.Facts {
	f, err := profiles.Resolve(profile, "")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func names(phases []engine.Phase) []string {
	var n []string
	for _, p := range phases {
		n = append(n, p.Name)
	}
	return n
}

// described is everything `xroad-node plan` would print for the phases.
func described(phases []engine.Phase) string {
	var b strings.Builder
	for _, p := range phases {
		b.WriteString(p.Summary + "\n" + strings.Join(p.Actions, "\n") + "\n")
		for _, f := range p.Files {
			if !f.Secret {
				b.Write(f.Content)
			}
		}
	}
	return b.String()
}

func TestDatabasePrimaryPlan(t *testing.T) {
	phases := Plan(&phase.Context{Doc: doc(metadata.RoleCSDBPrimary, "db1"), Facts: facts(t, "debian-12")})
	if got := names(phases); !slices.Equal(got, []string{"tls", "default-instance", "fence", "access", "settings", "restart", "slots", "roles", "database", "verify"}) {
		t.Errorf("phases = %v", got)
	}
	text := described(phases)
	for _, want := range []string{
		"hostssl   replication   standby   samenet   scram-sha-256",
		"hostssl   centerui   all   samenet   scram-sha-256",
		"password_encryption = 'scram-sha-256'", "wal_level = replica", "max_wal_senders = 10",
		"max_replication_slots = 10", "hot_standby = on", "listen_addresses = '*'", "ssl = on",
		"physical replication slots standby_db2",
		"/etc/postgresql/15/main/postgresql.conf",
		"ExecStartPre=+/usr/bin/xroad-node fence-check",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	noSecrets(t, text)
}

func TestDatabaseStandbyPlan(t *testing.T) {
	n := &Node{&phase.Context{Doc: doc(metadata.RoleCSDBStandby, "db2"), Facts: facts(t, "debian-12")}}
	phases := Plan(n.Context)
	if got := names(phases); !slices.Equal(got, []string{"tls", "fence", "passfile", "wait-primary", "basebackup", "access", "settings", "restart", "verify"}) {
		t.Errorf("phases = %v", got)
	}
	text := described(phases)
	for _, want := range []string{
		"--slot=standby_db2", "primary_slot_name = 'standby_db2'", "recovery_target_timeline = 'latest'",
		"passfile=/var/lib/postgresql/.xroad-replication.pgpass", "sslmode=verify-ca", "standby.signal",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	noSecrets(t, text)

	// Below PostgreSQL 12 the recovery settings go to recovery.conf with standby_mode.
	old := *n
	old.Facts = factsPG(t, "rhel-8", "10")
	f := old.standbyFile()
	if !strings.HasSuffix(f.Path, "/recovery.conf") || !strings.Contains(string(f.Content), "standby_mode = 'on'") ||
		!strings.Contains(string(f.Content), "primary_slot_name = 'standby_db2'") {
		t.Errorf("recovery.conf = %s:\n%s", f.Path, f.Content)
	}
	if old.standbyLines() != nil {
		t.Error("postgresql.conf gets recovery settings below PostgreSQL 12")
	}
}

func TestPassfileEscapes(t *testing.T) {
	if got := passfileLine(5432, "standby", `a:b\c`); got != `*:5432:replication:standby:a\:b\\c`+"\n" {
		t.Errorf("passfile line = %q", got)
	}
}

func TestCentralServerNodePlan(t *testing.T) {
	n := &Node{&phase.Context{Doc: doc(metadata.RoleCSNode, "cs2"), Facts: facts(t, "ubuntu-22.04")}}
	phases := Plan(n.Context)
	if got := names(phases); !slices.Equal(got, []string{"ha-node-name", "db-properties", "libpq-env", "admin-properties", "wait-database", "package-setup", "services"}) {
		t.Errorf("phases = %v", got)
	}
	if url := n.JDBCURL(); url != "jdbc:postgresql://10.0.0.21:5432,10.0.0.22:5432/centerui?targetServerType=primary&sslmode=verify-ca&sslrootcert=/etc/xroad-node/postgresql/ca.crt" {
		t.Errorf("JDBC URL = %s", url)
	}
	text := described(phases)
	for _, want := range []string{"[center] ha-node-name=node_1", "PGTARGETSESSIONATTRS=read-write", "PGHOST=10.0.0.21,10.0.0.22", "PGPORT=5432,5432"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if strings.Contains(text, "secondary_hosts") {
		t.Error("plan writes secondary_hosts, which X-Road 7 does not read")
	}
	for _, p := range phases {
		for _, f := range p.Files {
			if f.Path == XRoadProperties && (f.Mode != 0o600 || f.Owner != "root:root" || !f.Secret) {
				t.Errorf("%s: %o %s secret=%v", f.Path, f.Mode, f.Owner, f.Secret)
			}
		}
	}
	noSecrets(t, text)
}

func noSecrets(t *testing.T, text string) {
	t.Helper()
	for _, s := range []string{dbPassword, replPassword, adminPassword, "KEY-SECRET"} {
		if strings.Contains(text, s) {
			t.Errorf("plan output holds a secret (%.6s...)", s)
		}
	}
}

func factsPG(t *testing.T, profile, version string) *profiles.Facts {
	f, err := profiles.Resolve(profile, version)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Promotion and rejoining as the day-2 documents describe them.
func TestDatabaseDayTwoPlans(t *testing.T) {
	f := facts(t, "debian-12")
	// The documents metadata.Document.DatabasePromoted and DatabaseRejoined make.
	swapped := func(role metadata.Role, node string) *metadata.Document {
		d := doc(role, node)
		d.CentralServer.Database.Primary, d.CentralServer.Database.Standbys = metadata.Host{Name: "db2", Address: "10.0.0.22"}, []metadata.Host{{Name: "db1", Address: "10.0.0.21"}}
		return d
	}
	promoted := swapped(metadata.RoleCSDBPrimary, "db2")
	phases := PromotePlan(&phase.Context{Doc: promoted, Facts: f})
	if got := names(phases); !slices.Equal(got, []string{"fence", "promote", "settings", "restart", "slots"}) {
		t.Errorf("promote phases = %v", got)
	}
	text := described(phases)
	for _, want := range []string{"/usr/lib/postgresql/15/bin/pg_ctl promote -D /var/lib/postgresql/15/main", "physical replication slots standby_db1"} {
		if !strings.Contains(text, want) {
			t.Errorf("promote plan lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "primary_conninfo") {
		t.Error("the promoted primary keeps its standby settings")
	}

	phases = RejoinPlan(&phase.Context{Doc: swapped(metadata.RoleCSDBStandby, "db1"), Facts: f})
	if got := names(phases); !slices.Equal(got, []string{"tls", "fence", "passfile", "wait-primary", "slot", "basebackup", "access", "settings", "follow"}) {
		t.Errorf("rejoin phases = %v", got)
	}
	text = described(phases)
	for _, want := range []string{"--slot=standby_db1", "primary_slot_name = 'standby_db1'", "host=10.0.0.22", "CREATE_REPLICATION_SLOT standby_db1"} {
		if !strings.Contains(text, want) {
			t.Errorf("rejoin plan lacks %q", want)
		}
	}
	noSecrets(t, text)
}

// TestDatabaseRefusedWhereUnfenceable: RHEL 7's systemd ignores the fence
// drop-in's ExecStartPre=+, so a database role there is refused, with the
// profile's reason, before anything is touched.
func TestDatabaseRefusedWhereUnfenceable(t *testing.T) {
	n := &Node{&phase.Context{Doc: doc(metadata.RoleCSDBPrimary, "db1"), Facts: factsPG(t, "rhel-7", "12")}}
	err := n.checkPlatform()
	if err == nil || !strings.Contains(err.Error(), "ExecStartPre=+") {
		t.Fatalf("checkPlatform on rhel-7: %v", err)
	}
	if err := (&Node{&phase.Context{Doc: doc(metadata.RoleCSDBPrimary, "db1"), Facts: factsPG(t, "rhel-8", "12")}}).checkPlatform(); err != nil {
		t.Errorf("rhel-8: %v", err)
	}
}

// TestDefaultInstanceInitialisedOnRHEL: RHEL's packages make no cluster, so
// the database primary's first phase that touches PostgreSQL creates it
// with the profile's postgresql-setup before pg_hba.conf is edited; on
// Debian the package made it and nothing runs.
func TestDefaultInstanceInitialisedOnRHEL(t *testing.T) {
	for profile, want := range map[string]string{
		"rhel-9":    "/usr/pgsql-13/bin/postgresql-13-setup initdb",
		"debian-12": "",
	} {
		phases := Plan(&phase.Context{Doc: doc(metadata.RoleCSDBPrimary, "db1"), Facts: facts(t, profile)})
		i := slices.IndexFunc(phases, func(p engine.Phase) bool { return p.Name == "default-instance" })
		j := slices.IndexFunc(phases, func(p engine.Phase) bool { return p.Name == "access" })
		if i < 0 || i > j {
			t.Fatalf("%s: default-instance not before access: %v", profile, names(phases))
		}
		got := strings.Join(phases[i].Actions, "\n")
		if want != "" && !strings.Contains(got, want) || want == "" && strings.Contains(got, "initdb") {
			t.Errorf("%s: default-instance actions %q", profile, got)
		}
	}
}
