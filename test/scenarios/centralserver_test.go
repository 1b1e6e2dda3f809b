package scenarios

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xroad-appliance/builder/kit"
	"xroad-appliance/test/cluster"
	"xroad-appliance/test/nodeimage"
)

// The central-server HA images: images/cs-database.yaml built for the test
// profile, and the fixture central server's test image.
var (
	csDatabaseImage = &builtImage{opts: nodeimage.Options{Image: "cs-database"}}
	csNodeImage     = &builtImage{opts: nodeimage.Options{Image: "centralserver"}}
)

func csDatabaseLayers(t testing.TB) []string { return csDatabaseImage.layers(t) }
func csNodeLayers(t testing.TB) []string     { return csNodeImage.layers(t) }

// TestCentralServerHA boots the central servers' shared database (Appendix
// A) from the cs-database image, a primary and two standbys, and two central
// server nodes: each standby clones the primary through its own slot and
// streams; passwords are only in passfiles; both central servers write
// through the multi-host URL. After the primary stops and a standby is
// promoted with xroad-node, both write again; the other standby rejoins the
// new primary; the old primary, booted again, is fenced until it rejoins.
func TestCentralServerHA(t *testing.T) {
	c := cluster.New(t, csDatabaseLayers(t)...)
	spec := kit.Spec{Cluster: "cs", Profile: nodeimage.DefaultProfile, CentralServer: kit.DefaultCentralServer()}
	spec.CentralServer.Database.Primary = kit.Node{Name: "db1", Address: c.Addr(21)}
	spec.CentralServer.Database.Standbys = []kit.Node{{Name: "db2", Address: c.Addr(22)}, {Name: "db3", Address: c.Addr(23)}}
	spec.CentralServer.Nodes = []kit.CSNode{
		{Node: kit.Node{Name: "cs1", Address: c.Addr(11)}, HANodeName: "node_0"},
		{Node: kit.Node{Name: "cs2", Address: c.Addr(12)}, HANodeName: "node_1"},
	}
	res, err := kit.Generate(spec, nil, filepath.Join(t.TempDir(), "kit"), kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCluster{Cluster: c, kit: res}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	db2 := tc.boot(t, "db2") // the standbys wait for their primary
	db3 := tc.boot(t, "db3")
	db1 := tc.boot(t, "db1")
	var csNodes []*cluster.Node
	for _, name := range []string{"cs1", "cs2"} {
		n := tc.createFrom(t, csNodeLayers(t), tc.kit, name)
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		csNodes = append(csNodes, n)
	}
	for _, n := range append([]*cluster.Node{db1, db2, db3}, csNodes...) {
		waitProvisioned(t, ctx, n)
	}

	eventually(t, ctx, time.Minute, "db2 and db3 stream, each on its slot", func() (bool, string) {
		got := dbSQL(t, ctx, db1, "postgres", "SELECT string_agg(slot_name || ':' || active, ',' ORDER BY slot_name) FROM pg_replication_slots")
		rep := dbSQL(t, ctx, db1, "postgres", "SELECT string_agg(application_name || ':' || state, ',' ORDER BY application_name) FROM pg_stat_replication")
		return got == "standby_db2:true,standby_db3:true" && rep == "db2:streaming,db3:streaming", got + " / " + rep
	})
	if got := dbSQL(t, ctx, db2, "postgres", "SELECT pg_is_in_recovery()"); got != "t" {
		t.Errorf("db2 in recovery = %s", got)
	}
	if got := dbSQL(t, ctx, db1, "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'centerui'"); got != "centerui" {
		t.Errorf("centerui owner = %q", got)
	}
	dbSQL(t, ctx, db1, "centerui", "CREATE TABLE replication_probe (v text); INSERT INTO replication_probe VALUES ('from db1')")
	eventually(t, ctx, time.Minute, "db2 replays db1's write", func() (bool, string) {
		// The table itself arrives by replay.
		got, err := querySQL(ctx, db2, defaultPort, "centerui", "SELECT string_agg(v, ',') FROM replication_probe")
		return err == nil && got == "from db1", got
	})
	// The database primary's postmaster crashes: systemd starts it again
	// (its fence check finds no node ahead) and the standbys stream again.
	unit := pgOf(t, db1).Default.Unit + ".service"
	postmaster := strings.TrimSpace(db1.MustExec(ctx, "head", "-1", pgOf(t, db1).Default.DataDir+"/postmaster.pid"))
	db1.MustExec(ctx, "kill", "-KILL", postmaster)
	eventually(t, ctx, 2*time.Minute, "db1's PostgreSQL restarted after a crash", func() (bool, string) {
		out, _ := db1.Exec(ctx, "systemctl", "show", "-p", "ActiveState", "-p", "NRestarts", unit)
		_, err := querySQL(ctx, db1, defaultPort, "postgres", "SELECT 1")
		return err == nil && property(out, "ActiveState") == "active" && property(out, "NRestarts") != "0", out
	})
	dbSQL(t, ctx, db1, "centerui", "CREATE TABLE restart_probe AS SELECT 'after the crash'::text AS v")
	eventually(t, ctx, time.Minute, "db2 replays db1's write after its restart", func() (bool, string) {
		got, err := querySQL(ctx, db2, defaultPort, "centerui", "SELECT v FROM restart_probe")
		return err == nil && got == "after the crash", got
	})
	for _, want := range []string{"password_encryption = 'scram-sha-256'", "primary_slot_name = 'standby_db2'", "recovery_target_timeline = 'latest'"} {
		if conf := db2.MustExec(ctx, "cat", pgOf(t, db2).Default.ConfigDir+"/postgresql.conf"); !strings.Contains(conf, want) {
			t.Errorf("db2 postgresql.conf lacks %q", want)
		}
	}
	if got := modeOwner(t, ctx, db2, "/var/lib/postgresql/.xroad-replication.pgpass"); got != "600 postgres:postgres" {
		t.Errorf("passfile: %s", got)
	}
	// The password is in the passfile only: not in the conninfo, the
	// auto.conf or any process's arguments.
	for _, n := range all(db1, db2, db3) {
		main := pgOf(t, n).Default
		out := n.MustExec(ctx, "sh", "-c", "cat "+main.DataDir+"/postgresql.auto.conf "+main.ConfigDir+"/postgresql.conf; ps -eo args")
		if strings.Contains(out, "password=") {
			t.Errorf("%s: a password in configuration or arguments", n.Name)
		}
	}
	for _, n := range csNodes {
		if got := modeOwner(t, ctx, n, "/etc/xroad.properties"); got != "600 root:root" {
			t.Errorf("%s: /etc/xroad.properties %s", n.Name, got)
		}
		if ini := n.MustExec(ctx, "cat", "/etc/xroad/conf.d/local.ini"); !strings.Contains(ini, "ha-node-name=") {
			t.Errorf("%s: local.ini lacks ha-node-name:\n%s", n.Name, ini)
		}
		expectAdminUser(t, ctx, n, res, []string{"xroad-security-officer", "xroad-system-administrator", "xroad-registration-officer"}, nil)
	}
	// Each central server made its own TLS identities at first boot.
	for _, f := range []string{"/etc/xroad/ssl/center-admin-service.key", "/etc/xroad/ssl/management-service.key"} {
		sums := map[string]bool{}
		for _, n := range csNodes {
			sums[strings.Fields(n.MustExec(ctx, "sha256sum", f))[0]] = true
		}
		if len(sums) != len(csNodes) {
			t.Errorf("the central servers share %s", f)
		}
	}
	// The central servers make their table when they first write: until
	// then the query fails, and the wait goes on.
	writers := func(db *cluster.Node, since string) (bool, string) {
		got, err := querySQL(ctx, db, defaultPort, "centerui", "SELECT coalesce(string_agg(DISTINCT node_name, ',' ORDER BY node_name), '') FROM ha_probe WHERE written > '"+since+"'")
		if err != nil {
			return false, err.Error()
		}
		return got == "node_0,node_1", got
	}
	for _, n := range append([]*cluster.Node{db1, db2, db3}, csNodes...) {
		eventually(t, ctx, time.Minute, n.Name+" status healthy", func() (bool, string) {
			st, raw := nodeStatus(t, ctx, n)
			return st.Healthy && st.CentralServer != nil, raw
		})
	}
	if st, raw := nodeStatus(t, ctx, csNodes[0]); st.CentralServer == nil || !strings.HasPrefix(st.CentralServer.Writable, db1.Addr+":") {
		t.Errorf("cs1 status does not name db1 as the writable database:\n%s", raw)
	}
	start := dbSQL(t, ctx, db1, "postgres", "SELECT now()")
	eventually(t, ctx, 2*time.Minute, "both central servers write on db1", func() (bool, string) { return writers(db1, start) })

	// With an API key configured, status asks the central server's HA
	// cluster status (guide 5) and shows both nodes OK.
	const apiKey = "ha-status-test-key"
	// The stand-in reads its key from a file (the central server keeps its
	// keys in the database); xroad-node's copy is root's alone.
	csNodes[0].MustExec(ctx, "sh", "-c", "umask 077 && echo "+apiKey+" > /etc/xroad/center-api-key && chown xroad /etc/xroad/center-api-key && "+
		"mkdir -p /etc/xroad-node && echo "+apiKey+" > /etc/xroad-node/center-api-key")
	eventually(t, ctx, time.Minute, "cs1's status shows the HA cluster with both nodes OK", func() (bool, string) {
		st, raw := nodeStatus(t, ctx, csNodes[0])
		if strings.Contains(raw, apiKey) {
			t.Fatalf("cs1's status prints the API key:\n%s", raw)
		}
		ha := st.CentralServer.HACluster
		ok := st.Healthy && ha != nil && ha.Asked && ha.AllNodesOK != nil && *ha.AllNodesOK && ha.NodeName == "node_0" && len(ha.Nodes) == 2
		return ok, raw
	})

	// The standby provisioned again changes nothing.
	confFiles := "md5sum " + pgOf(t, db2).Default.ConfigDir + "/*.conf /var/lib/postgresql/.xroad-replication.pgpass"
	before := db2.MustExec(ctx, "sh", "-c", confFiles)
	mustXroadNode(t, ctx, db2, "provision")
	if after := db2.MustExec(ctx, "sh", "-c", confFiles); after != before {
		t.Errorf("a second provision changed db2:\n%s\n%s", before, after)
	}

	t.Run("fail-over to the standby", func(t *testing.T) {
		// While db1 streams to it, db2 refuses promotion; security-server
		// commands are refused on every central-server role.
		for _, c := range []struct {
			n    *cluster.Node
			args []string
		}{{db2, []string{"promote"}}, {db2, []string{"sync", "pause"}}, {csNodes[0], []string{"promote"}}, {db1, []string{"rejoin", "--primary", "db1"}}} {
			if out, code := xroadNode(ctx, c.n, c.args...); code != 3 {
				t.Errorf("%s: xroad-node %s: exit %d, want 3 (refused)\n%s", c.n.Name, strings.Join(c.args, " "), code, out)
			}
		}
		if out, _ := xroadNode(ctx, db2, "promote"); !strings.Contains(out, "the primary db1 ("+db1.Addr+") still accepts writes") {
			t.Errorf("db2's promotion refused without naming the live primary:\n%s", out)
		}
		if err := db1.Stop(); err != nil {
			t.Fatal(err)
		}
		// Appendix A's manual fail-over, through xroad-node.
		t.Log(mustXroadNode(t, ctx, db2, "promote"))
		promoted := dbSQL(t, ctx, db2, "postgres", "SELECT now()")
		eventually(t, ctx, 2*time.Minute, "both central servers write on the promoted db2", func() (bool, string) { return writers(db2, promoted) })
		if st, raw := nodeStatus(t, ctx, csNodes[1]); st.CentralServer == nil || !strings.HasPrefix(st.CentralServer.Writable, db2.Addr+":") {
			t.Errorf("cs2 status does not name db2 as the writable database:\n%s", raw)
		}
		if got := dbSQL(t, ctx, db2, "postgres", "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots"); got != "standby_db1,standby_db3" {
			t.Errorf("db2's slots after promotion: %q, want standby_db1,standby_db3", got)
		}
		// The other standby, still on db1's timeline, rejoins db2 while db1 is away.
		t.Log(mustXroadNode(t, ctx, db3, "rejoin", "--primary", db2.Addr))
		eventually(t, ctx, time.Minute, "db3 streams from db2", func() (bool, string) {
			got := dbSQL(t, ctx, db2, "postgres", "SELECT string_agg(application_name || ':' || state, ',') FROM pg_stat_replication")
			return got == "db3:streaming", got
		})
		if out := mustXroadNode(t, ctx, db3, "rejoin", "--primary", "db2"); strings.Contains(out, "phase applying") {
			t.Errorf("a second rejoin changed db3:\n%s", out)
		}

		// The old primary boots again and must not come back as a writer.
		if err := db1.Start(); err != nil {
			t.Fatal(err)
		}
		if out, err := db1.WaitBooted(ctx); err != nil {
			t.Fatalf("db1 boot: %v\n%s", err, out)
		}
		unit := pgOf(t, db1).Default.Unit + ".service"
		eventually(t, ctx, 2*time.Minute, "db1's PostgreSQL refused by the fence", func() (bool, string) {
			state, _ := db1.Exec(ctx, "systemctl", "is-active", unit)
			_, err := db1.Exec(ctx, "test", "-f", "/var/lib/xroad-node/fenced.json")
			return strings.TrimSpace(state) == "failed" && err == nil, state
		})
		if journal := db1.MustExec(ctx, "journalctl", "-b", "-u", unit, "--no-pager"); !strings.Contains(journal, "timeline 2, newer than this node's 1") {
			t.Errorf("db1's journal does not say why it is fenced:\n%s", journal)
		}
		if out, err := db1.Exec(ctx, "systemctl", "start", unit); err == nil {
			t.Errorf("db1's PostgreSQL started again while fenced:\n%s", out)
		}
		if _, err := db1.Exec(ctx, "runuser", "-u", "postgres", "--", "psql", "-X", "-qtAc", "SELECT 1"); err == nil {
			t.Error("a server answers on db1 while it is fenced")
		}
		if st, raw := nodeStatus(t, ctx, db1); st.Healthy || st.CentralServer == nil || st.CentralServer.Fenced == nil {
			t.Errorf("db1's status does not show the fence:\n%s", raw)
		}
		since := dbSQL(t, ctx, db2, "postgres", "SELECT now()")
		eventually(t, ctx, 2*time.Minute, "both central servers still write on db2 only", func() (bool, string) { return writers(db2, since) })

		// Rejoined as db2's standby through its slot, db1 replays db2's writes.
		t.Log(mustXroadNode(t, ctx, db1, "rejoin", "--primary", "db2"))
		if _, err := db1.Exec(ctx, "test", "-e", "/var/lib/xroad-node/fenced.json"); err == nil {
			t.Error("the fence stays after rejoin")
		}
		if aside := db1.MustExec(ctx, "sh", "-c", "ls -d "+pgOf(t, db1).Default.DataDir+".* | grep -v xroad-basebackup$ | wc -l"); strings.TrimSpace(aside) == "0" {
			t.Error("the old primary's data directory was not kept aside")
		}
		dbSQL(t, ctx, db2, "centerui", "INSERT INTO replication_probe VALUES ('from db2')")
		for _, n := range all(db1, db3) {
			eventually(t, ctx, time.Minute, n.Name+" replays db2's write", func() (bool, string) {
				got := dbSQL(t, ctx, n, "centerui", "SELECT string_agg(v, ',' ORDER BY v) FROM replication_probe")
				return got == "from db1,from db2", got
			})
		}
		for _, n := range all(db1, db2, db3) {
			eventually(t, ctx, time.Minute, n.Name+" status healthy in its new place", func() (bool, string) {
				st, raw := nodeStatus(t, ctx, n)
				return st.Healthy, raw
			})
		}
		// Rejoined and restarted, db1 starts as a standby: the fence check lets it.
		db1.MustExec(ctx, "systemctl", "restart", unit)
		if got := dbSQL(t, ctx, db1, "postgres", "SELECT pg_is_in_recovery()"); got != "t" {
			t.Errorf("db1 in recovery after a restart = %s", got)
		}
	})
}

// dbSQL runs a query on a database node's instance.
func dbSQL(t *testing.T, ctx context.Context, n *cluster.Node, db, query string) string {
	t.Helper()
	return sqlOn(t, ctx, n, defaultPort, db, query)
}
