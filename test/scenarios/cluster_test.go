package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/test/cluster"
	"xroad-appliance/test/nodeimage"
)

// TestSecurityServerCluster boots the built image as a secondary 30 s before
// its primary, then the primary and a second secondary, and checks the
// cluster the guide describes: a clean boot, streaming replication, configuration sync, node-local files,
// modes and owners, idempotent re-runs and refusal of foreign data.
func TestSecurityServerCluster(t *testing.T) { securityServerCluster(t, nodeimage.DefaultProfile) }

// TestSecurityServerClusterUbuntu2204 is the same on Ubuntu 22.04, X-Road's
// other Ubuntu platform.
func TestSecurityServerClusterUbuntu2204(t *testing.T) { securityServerCluster(t, "ubuntu-22.04") }

func securityServerCluster(t *testing.T, profile string) {
	tc := newClusterOn(t, profile, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	ss2 := tc.boot(t, "ss2")
	time.Sleep(30 * time.Second) // the primary appears late
	ss1, ss3 := tc.boot(t, "ss1"), tc.boot(t, "ss3")
	for _, n := range []*cluster.Node{ss1, ss2, ss3} {
		waitProvisioned(t, ctx, n)
	}

	t.Run("booted from the built image", func(t *testing.T) {
		for _, f := range []string{"usr/bin/xroad-node", "usr/lib/systemd/system/xroad-provision.service",
			"etc/systemd/system/multi-user.target.wants/xroad-provision.service", "usr/share/xroad-appliance/profile.yaml"} {
			if _, err := os.Lstat(filepath.Join(tc.image.Rootfs, f)); err != nil {
				t.Errorf("built rootfs lacks %s", f)
			}
		}
		expectDistribution(t, tc)
		for _, n := range all(ss1, ss2, ss3) {
			if state, err := n.WaitBooted(ctx); err != nil || state != "running" {
				out, _ := n.Exec(ctx, "systemctl", "--failed", "--no-legend")
				t.Errorf("%s booted %q (%v): %s", n.Name, state, err, out)
			}
			if st := strings.TrimSpace(n.MustExec(ctx, "systemctl", "is-active", pgOf(t, n).Serverconf.Unit)); st != "active" {
				t.Errorf("%s: serverconf instance %s", n.Name, st)
			}
		}
	})

	t.Run("streaming", func(t *testing.T) {
		expectStreaming(t, ctx, ss1, "ss2", "ss3")
		for _, s := range []*cluster.Node{ss2, ss3} {
			if r := sql(t, ctx, s, "postgres", "SELECT pg_is_in_recovery()"); r != "t" {
				t.Errorf("%s not in recovery: %q", s.Name, r)
			}
		}
	})

	t.Run("status", func(t *testing.T) {
		for _, n := range []*cluster.Node{ss2, ss3, ss1} {
			s := expectHealthy(t, ctx, n)
			if n != ss1 {
				continue
			}
			var streaming []string
			for _, sec := range s.Primary.Secondaries {
				streaming = append(streaming, sec.Name+":"+sec.State)
			}
			if strings.Join(streaming, ",") != "ss2:streaming,ss3:streaming" || len(s.Primary.Missing) != 0 {
				t.Errorf("status on the primary: secondaries %v, missing %v", streaming, s.Primary.Missing)
			}
			// Both secondaries are healthy, so each has synced through serve-sync.
			for _, name := range []string{"ss2", "ss3"} {
				if s.Primary.LastSeen[name] == nil {
					t.Errorf("status on the primary: no sync of %s seen: %v %s", name, s.Primary.LastSeen, s.Primary.LastSeenError)
				}
			}
		}
	})

	t.Run("serverconf row replicates", func(t *testing.T) {
		sql(t, ctx, ss1, "serverconf", "CREATE TABLE IF NOT EXISTS e2e_probe (v text); INSERT INTO e2e_probe VALUES ('from-primary')")
		for _, s := range []*cluster.Node{ss2, ss3} {
			eventually(t, ctx, 30*time.Second, s.Name+" reads the primary's row", func() (bool, string) {
				out, err := s.Exec(ctx, "runuser", "-u", "postgres", "--", "psql", "-X", "-qtA", "-p", serverconfPort, "-d", "serverconf", "-c", "SELECT v FROM e2e_probe")
				return err == nil && strings.TrimSpace(out) == "from-primary", out
			})
		}
	})

	t.Run("configuration sync", func(t *testing.T) {
		stamp := fmt.Sprintf("probe-%d", time.Now().UnixNano())
		ss1.MustExec(ctx, "sh", "-c", "echo "+stamp+" > /etc/xroad/signer/e2e-probe && chown xroad:xroad /etc/xroad/signer/e2e-probe")
		// X-Road 7.7+ writes each node's proxy heap here.
		ss1.MustExec(ctx, "sh", "-c", "echo '# heap sized for ss1' >> /etc/xroad/services/local.properties")
		nodeLocal := []string{"/etc/xroad/db.properties", "/etc/xroad/conf.d/node.ini", "/etc/xroad/postgresql/server.crt", "/etc/xroad/services/local.properties"}
		local := map[string]string{}
		for _, s := range []*cluster.Node{ss2, ss3} {
			for _, f := range nodeLocal {
				local[s.Name+f] = s.MustExec(ctx, "sha256sum", f)
			}
		}
		for _, s := range []*cluster.Node{ss2, ss3} {
			// One timer period is 60 s (guide 5.2.1); allow one more run.
			eventually(t, ctx, 130*time.Second, s.Name+" receives /etc/xroad/signer/e2e-probe", func() (bool, string) {
				out, err := s.Exec(ctx, "cat", "/etc/xroad/signer/e2e-probe")
				return err == nil && strings.TrimSpace(out) == stamp, out
			})
			for _, f := range nodeLocal {
				if got := s.MustExec(ctx, "sha256sum", f); got != local[s.Name+f] {
					t.Errorf("%s: sync changed node-local %s", s.Name, f)
				}
			}
		}
	})

	t.Run("node files", func(t *testing.T) {
		for _, n := range []*cluster.Node{ss1, ss2, ss3} {
			want := "type=slave"
			if n == ss1 {
				want = "type=master"
			}
			if ini := n.MustExec(ctx, "cat", "/etc/xroad/conf.d/node.ini"); !strings.Contains(ini, "[node]\n"+want+"\n") {
				t.Errorf("%s node.ini:\n%s", n.Name, ini)
			}
			props := n.MustExec(ctx, "cat", "/etc/xroad/db.properties")
			if !strings.Contains(props, "serverconf.hibernate.connection.url = jdbc:postgresql://127.0.0.1:"+serverconfPort+"/serverconf") {
				t.Errorf("%s db.properties does not point serverconf at %s:\n%s", n.Name, serverconfPort, props)
			}
		}
		// The secondaries' serverconf password is the primary's (guide 4.4).
		pw := func(n *cluster.Node) string {
			return n.MustExec(ctx, "sed", "-n", "s/^serverconf.hibernate.connection.password *= *//p", "/etc/xroad/db.properties")
		}
		if pw(ss2) != pw(ss1) || pw(ss3) != pw(ss1) {
			t.Error("secondaries' serverconf password differs from the primary's")
		}
		for _, s := range []*cluster.Node{ss2, ss3} {
			groups := s.MustExec(ctx, "sh", "-c", "getent group | cut -d: -f1 | grep '^xroad-' | sort")
			for _, g := range []string{"xroad-registration-officer", "xroad-service-administrator", "xroad-system-administrator"} {
				if strings.Contains(groups, g+"\n") {
					t.Errorf("%s still has UI group %s", s.Name, g)
				}
			}
			if !strings.Contains(groups, "xroad-security-officer\n") {
				t.Errorf("%s lost xroad-security-officer: %s", s.Name, groups)
			}
		}
	})

	t.Run("modes and owners", func(t *testing.T) {
		table := []struct {
			nodes []*cluster.Node
			path  string
			want  string
		}{
			{all(ss1, ss2, ss3), "/etc/xroad/postgresql/ca.crt", "400 postgres:root"},
			{all(ss1, ss2, ss3), "/etc/xroad/postgresql/server.crt", "400 postgres:root"},
			{all(ss1, ss2, ss3), "/etc/xroad/postgresql/server.key", "400 postgres:root"},
			{all(ss1, ss2, ss3), "/etc/xroad/conf.d/node.ini", "644 xroad:xroad"},
			{all(ss1, ss2, ss3), "/etc/xroad/db.properties", "640 xroad:xroad"},
			{all(ss1), "/home/xroad-slave/.ssh", "755 root:root"},
			{all(ss1), "/home/xroad-slave/.ssh/authorized_keys", "644 root:root"},
			{all(ss1), "/home/xroad-slave/seen", "700 xroad-slave:xroad"},
			{all(ss2, ss3), "/var/lib/xroad/.ssh", "700 xroad:xroad"},
			{all(ss2, ss3), "/var/lib/xroad/.ssh/id_ed25519", "600 xroad:xroad"},
			{all(ss2, ss3), "/var/lib/xroad/.ssh/known_hosts", "600 xroad:xroad"},
			{all(ss2, ss3), pgOf(t, ss2).Serverconf.DataDir + "/standby.signal", "600 postgres:postgres"},
			{all(ss1, ss2, ss3), "/etc/xroad-node/role.yaml", "600 root:root"},
		}
		for _, row := range table {
			for _, n := range row.nodes {
				if got := modeOwner(t, ctx, n, row.path); got != row.want {
					t.Errorf("%s %s: %s, want %s", n.Name, row.path, got, row.want)
				}
			}
		}
		for _, s := range []*cluster.Node{ss2, ss3} {
			if st, _ := s.Exec(ctx, "systemctl", "is-enabled", "xroad-sync.timer"); strings.TrimSpace(st) != "enabled" {
				t.Errorf("%s: xroad-sync.timer %s", s.Name, st)
			}
			if kh, _ := s.Exec(ctx, "grep", "-rhiE", "^[^#]*StrictHostKeyChecking", "/etc/ssh", "/var/lib/xroad/.ssh", "/etc/systemd/system"); kh != "" {
				t.Errorf("%s: StrictHostKeyChecking set: %s", s.Name, kh)
			}
		}
	})

	t.Run("second provision changes nothing", func(t *testing.T) {
		for _, n := range []*cluster.Node{ss1, ss2, ss3} {
			before := treeState(t, ctx, n)
			result := n.MustExec(ctx, "cat", "/var/lib/xroad-node/result.json")
			n.MustExec(ctx, "xroad-node", "provision")
			if after := treeState(t, ctx, n); after != before {
				t.Errorf("%s: provision on a provisioned node changed it: %s -> %s", n.Name, before, after)
			}
			if after := n.MustExec(ctx, "cat", "/var/lib/xroad-node/result.json"); after != result {
				t.Errorf("%s: provision on a provisioned node rewrote result.json", n.Name)
			}
		}
	})

	t.Run("live or foreign data directory refused", func(t *testing.T) {
		const created = "/var/lib/xroad-node/serverconf-created.sysid"
		pg := pgOf(t, ss3)
		serverconfData := pg.Serverconf.DataDir
		pgctl := func(action string) string {
			return ss3.MustExec(ctx, "runuser", "-u", "postgres", "--", pg.BinDir+"/pg_ctl", "-D", serverconfData,
				"-l", "/tmp/e2e-pgctl.log", "-o", "-p 5499 -c listen_addresses=''", "-w", action)
		}
		ownCreated := ss3.MustExec(ctx, "cat", created)
		ss3.MustExec(ctx, "systemctl", "stop", pg.Serverconf.Unit)
		ss3.MustExec(ctx, "mv", serverconfData, serverconfData+".e2e-own")
		ss3.MustExec(ctx, "runuser", "-u", "postgres", "--", pg.BinDir+"/initdb", "-D", serverconfData)

		// As at first boot: the instance is one this node created, but a
		// postmaster someone started by hand is running on it.
		sysid := strings.TrimSpace(ss3.MustExec(ctx, "sh", "-c",
			pg.BinDir+"/pg_controldata "+serverconfData+" | sed -n 's/^Database system identifier: *//p'"))
		ss3.MustExec(ctx, "sh", "-c", "echo "+sysid+" > "+created)
		pgctl("start")
		refused(t, ctx, ss3, "postmaster")
		pgctl("stop")

		// Another cluster's data directory, stopped.
		ss3.MustExec(ctx, "sh", "-c", "printf %s '"+ownCreated+"' > "+created)
		refused(t, ctx, ss3, "system identifier")

		ss3.MustExec(ctx, "rm", "-rf", serverconfData) // the test's own initdb
		ss3.MustExec(ctx, "mv", serverconfData+".e2e-own", serverconfData)
		ss3.MustExec(ctx, "systemctl", "start", pg.Serverconf.Unit)
		eventually(t, ctx, 60*time.Second, "ss3 streams again", func() (bool, string) {
			out, err := ss1.Exec(ctx, "runuser", "-u", "postgres", "--", "psql", "-X", "-qtA", "-p", serverconfPort, "-c",
				"SELECT state FROM pg_stat_replication WHERE application_name = 'ss3'")
			return err == nil && strings.TrimSpace(out) == "streaming", out
		})
	})
}

// TestReplaceAndReboot replaces a secondary by a fresh copy of the image with
// the same seed, then reboots every node: nothing is provisioned again and the
// cluster comes back healthy.
func TestReplaceAndReboot(t *testing.T) {
	tc := newCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	ss1, ss2, ss3 := tc.boot(t, "ss1"), tc.boot(t, "ss2"), tc.boot(t, "ss3")
	for _, n := range []*cluster.Node{ss1, ss2, ss3} {
		waitProvisioned(t, ctx, n)
	}

	t.Run("replace a secondary", func(t *testing.T) {
		before := treeState(t, ctx, ss1)
		if err := ss3.Destroy(); err != nil {
			t.Fatal(err)
		}
		ss3 = tc.boot(t, "ss3")
		waitProvisioned(t, ctx, ss3)
		expectHealthy(t, ctx, ss3)
		expectStreaming(t, ctx, ss1, "ss2", "ss3")
		if after := treeState(t, ctx, ss1); after != before {
			t.Errorf("replacing a secondary changed the primary: %s -> %s", before, after)
		}
	})

	t.Run("reboot every node", func(t *testing.T) {
		for _, n := range []*cluster.Node{ss1, ss2, ss3} {
			if err := n.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := n.Start(); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range []*cluster.Node{ss1, ss2, ss3} {
			if _, err := n.WaitBooted(ctx); err != nil {
				t.Fatal(err)
			}
			out := n.MustExec(ctx, "systemctl", "show", "-p", "ConditionResult", "-p", "ExecMainStartTimestampMonotonic", "xroad-provision.service")
			if property(out, "ConditionResult") != "no" || property(out, "ExecMainStartTimestampMonotonic") != "0" {
				t.Errorf("%s: the provisioner ran again after a reboot:\n%s", n.Name, out)
			}
			if j := n.MustExec(ctx, "sh", "-c", "journalctl -b -q -o cat -u xroad-provision.service | grep -c 'phase applying' || true"); strings.TrimSpace(j) != "0" {
				t.Errorf("%s: phases applied after a reboot: %s", n.Name, j)
			}
		}
		for _, n := range []*cluster.Node{ss1, ss2, ss3} {
			expectHealthy(t, ctx, n)
		}
	})
}

func all(n ...*cluster.Node) []*cluster.Node { return n }

// refused runs the basebackup phase on n and expects it to refuse for reason
// and to leave the node as it was.
func refused(t *testing.T, ctx context.Context, n *cluster.Node, reason string) {
	t.Helper()
	before := treeState(t, ctx, n)
	out, err := n.Exec(ctx, "xroad-node", "provision", "--phase", "basebackup")
	if err == nil || !strings.Contains(out, reason) {
		t.Errorf("basebackup was not refused for %s: %v\n%s", reason, err, out)
	}
	if after := treeState(t, ctx, n); after != before {
		t.Errorf("refused basebackup (%s) changed the node", reason)
	}
}

// TestDebianClusterConverges keeps Debian 12, the platform the appliance was
// first built on, booting: a primary and two secondaries provision, stream
// and report healthy.
func TestDebianClusterConverges(t *testing.T) {
	tc := newClusterOn(t, "debian-12", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ss1, ss2, ss3 := tc.boot(t, "ss1"), tc.boot(t, "ss2"), tc.boot(t, "ss3")
	for _, n := range all(ss1, ss2, ss3) {
		waitProvisioned(t, ctx, n)
	}
	expectStreaming(t, ctx, ss1, "ss2", "ss3")
	for _, n := range all(ss1, ss2, ss3) {
		expectHealthy(t, ctx, n)
	}
}

// expectDistribution checks that the image is the profile's distribution,
// brought up to date from its update pockets: /etc/os-release names the
// profile's release, and the PostgreSQL server package carries a version
// from the -updates or -security pocket, which names the release it was
// built for (16.15-0ubuntu0.24.04.1, 15.14-0+deb12u1).
func expectDistribution(t *testing.T, tc *testCluster) {
	t.Helper()
	f, err := profiles.Resolve(tc.profile, "")
	if err != nil {
		t.Fatal(err)
	}
	osRelease, err := os.ReadFile(filepath.Join(tc.image.Rootfs, "usr/lib/os-release"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ID=" + f.OS.ID + "\n", `VERSION_ID="` + f.OS.Version + `"`} {
		if !strings.Contains(string(osRelease), want) {
			t.Errorf("os-release lacks %q:\n%s", want, osRelease)
		}
	}
	manifest, err := os.ReadFile(tc.image.Output("package-manifest"))
	if err != nil {
		t.Fatal(err)
	}
	updated := map[string]string{"ubuntu": "ubuntu0." + f.OS.Version, "debian": "deb" + f.OS.Version + "u"}[f.OS.ID]
	server := f.PG.Packages[0]
	for _, line := range strings.Split(string(manifest), "\n") {
		if name, rest, _ := strings.Cut(line, " "); name == server {
			if !strings.Contains(rest, updated) {
				t.Errorf("packages.txt: %s, not from an update pocket (want a version with %q)", line, updated)
			}
			return
		}
	}
	t.Errorf("packages.txt lists no %s", server)
}
