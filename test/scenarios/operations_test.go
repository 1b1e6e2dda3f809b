package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"xroad-appliance/builder/kit"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/test/cluster"
	"xroad-appliance/test/fixtures"
	"xroad-appliance/test/nodeimage"
)

// TestDayTwoOperations runs xroad-node's day-2 commands on a booted
// cluster: replay and sync paused and resumed, maintenance mode, the rolling
// upgrade's prepare and finish in guide 7.2's order, and every command run in
// the wrong state refused without a change.
func TestDayTwoOperations(t *testing.T) { dayTwoOperations(t, nodeimage.DefaultProfile) }

// TestDayTwoOperationsUbuntu2204 is the same on Ubuntu 22.04.
func TestDayTwoOperationsUbuntu2204(t *testing.T) { dayTwoOperations(t, "ubuntu-22.04") }

func dayTwoOperations(t *testing.T, profile string) {
	tc := newClusterOn(t, profile, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	ss1, ss2, ss3 := tc.boot(t, "ss1"), tc.boot(t, "ss2"), tc.boot(t, "ss3")
	for _, n := range all(ss1, ss2, ss3) {
		waitProvisioned(t, ctx, n)
	}
	for _, n := range all(ss1, ss2, ss3) {
		expectHealthy(t, ctx, n)
	}
	sql(t, ctx, ss1, "serverconf", "CREATE TABLE day2_probe (v text)")
	secondaries := all(ss2, ss3)

	t.Run("wrong state is refused", func(t *testing.T) {
		before := map[string]string{}
		for _, n := range all(ss1, ss2) {
			before[n.Name] = treeState(t, ctx, n)
		}
		cases := []struct {
			node *cluster.Node
			args []string
			says string
		}{
			{ss1, []string{"replay", "pause"}, "is the primary"},
			{ss1, []string{"sync", "pause"}, "is the primary"},
			{ss1, []string{"sync", "now"}, "is the primary"},
			{ss2, []string{"upgrade", "finish"}, "no upgrade prepared"},
			{ss1, []string{"upgrade", "finish"}, "no upgrade prepared"},
		}
		for _, c := range cases {
			out, code := xroadNode(ctx, c.node, c.args...)
			if code != 3 || !strings.Contains(out, c.says) {
				t.Errorf("%s: xroad-node %s: exit %d, want 3 saying %q:\n%s", c.node.Name, strings.Join(c.args, " "), code, c.says, out)
			}
		}
		for _, n := range all(ss1, ss2) {
			if after := treeState(t, ctx, n); after != before[n.Name] {
				t.Errorf("%s: a refused command changed the node", n.Name)
			}
		}
	})

	t.Run("replay pause stops applying and resume catches up", func(t *testing.T) {
		mustXroadNode(t, ctx, ss2, "replay", "pause")
		if s, _ := nodeStatus(t, ctx, ss2); s.Secondary == nil || s.Secondary.ReplayPaused == nil || !*s.Secondary.ReplayPaused {
			t.Errorf("status does not say replay is paused: %+v", s.Secondary)
		}
		sql(t, ctx, ss1, "serverconf", "INSERT INTO day2_probe VALUES ('while paused')")
		eventually(t, ctx, 30*time.Second, "ss3 (not paused) applies the row", func() (bool, string) {
			got := sql(t, ctx, ss3, "serverconf", "SELECT count(*) FROM day2_probe")
			return got == "1", got
		})
		if got := sql(t, ctx, ss2, "serverconf", "SELECT count(*) FROM day2_probe"); got != "0" {
			t.Errorf("ss2 applied WAL while replay was paused: %s rows", got)
		}
		if out, code := xroadNode(ctx, ss2, "replay", "wait", "--timeout", "5s"); code != 3 || !strings.Contains(out, "paused") {
			t.Errorf("replay wait while paused: exit %d:\n%s", code, out)
		}
		mustXroadNode(t, ctx, ss2, "replay", "resume")
		if out := mustXroadNode(t, ctx, ss2, "replay", "wait", "--timeout", "1m"); !strings.Contains(out, "caught up") {
			t.Errorf("replay wait: %s", out)
		}
		if got := sql(t, ctx, ss2, "serverconf", "SELECT count(*) FROM day2_probe"); got != "1" {
			t.Errorf("ss2 after replay resume + wait: %s rows", got)
		}
	})

	t.Run("sync pause blocks the sync and resume restores it", func(t *testing.T) {
		mustXroadNode(t, ctx, ss2, "sync", "pause")
		if got := modeOwner(t, ctx, ss2, "/var/tmp/xroad/sync-disabled"); !strings.HasSuffix(got, " xroad:xroad") {
			t.Errorf("sync-disabled flag: %s, want owned by xroad", got)
		}
		ss1.MustExec(ctx, "sh", "-c", "echo paused > /etc/xroad/signer/day2-probe && chown xroad:xroad /etc/xroad/signer/day2-probe")
		// The timer's own run is blocked as well as a forced one.
		if _, err := ss2.Exec(ctx, "systemctl", "start", "xroad-sync.service"); err == nil {
			t.Error("xroad-sync.service ran although sync is paused")
		}
		if out, code := xroadNode(ctx, ss2, "sync", "now"); code != 3 || !strings.Contains(out, "paused") {
			t.Errorf("sync now while paused: exit %d:\n%s", code, out)
		}
		if _, err := ss2.Exec(ctx, "test", "-e", "/etc/xroad/signer/day2-probe"); err == nil {
			t.Error("the file reached ss2 while its sync was paused")
		}
		mustXroadNode(t, ctx, ss2, "sync", "resume")
		mustXroadNode(t, ctx, ss2, "sync", "now")
		if out, err := ss2.Exec(ctx, "cat", "/etc/xroad/signer/day2-probe"); err != nil || strings.TrimSpace(out) != "paused" {
			t.Errorf("after sync resume + now: %v %s", err, out)
		}
	})

	t.Run("maintenance mode answers 503 until off", func(t *testing.T) {
		if out := mustXroadNode(t, ctx, ss3, "maintenance", "on"); !strings.Contains(out, "Maintenance mode set: false => true") {
			t.Errorf("maintenance on: %s", out)
		}
		if code, body := health(ctx, ss3); code != 503 || !strings.Contains(body, "Health check interface is in maintenance mode") {
			t.Errorf("health in maintenance: %d %q", code, body)
		}
		if out := mustXroadNode(t, ctx, ss3, "maintenance", "off"); !strings.Contains(out, "Maintenance mode set: true => false") {
			t.Errorf("maintenance off: %s", out)
		}
		if code, body := health(ctx, ss3); code != 200 {
			t.Errorf("health after maintenance off: %d %q", code, body)
		}
	})

	t.Run("a secondary is added to the running cluster", func(t *testing.T) {
		tc.rekit(t, "ss1", kit.Node{Name: "ss4", Address: tc.Addr(14)})
		for _, n := range all(ss1, ss2, ss3) {
			if err := n.WriteFile("/root/renewed-seed", tc.seedOf(t, n.Name), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// Another node's seed is bad input: exit 2, naming the field, nothing changed.
		if err := ss2.WriteFile("/root/other-seed", tc.seedOf(t, "ss3"), 0o600); err != nil {
			t.Fatal(err)
		}
		before := treeState(t, ctx, ss2)
		if out, code := xroadNode(ctx, ss2, "reseed", "/root/other-seed"); code != 2 || !strings.Contains(out, "other-seed: key node") {
			t.Errorf("reseed with ss3's seed on ss2: exit %d, want 2 naming the file and key node:\n%s", code, out)
		}
		if treeState(t, ctx, ss2) != before {
			t.Error("ss2: a refused reseed changed the node")
		}
		senders := sql(t, ctx, ss1, "postgres", "SHOW max_wal_senders")
		if out := mustXroadNode(t, ctx, ss1, "reseed", "/root/renewed-seed"); !strings.Contains(out, "lets in ss4") {
			t.Errorf("reseed on the primary: %s", out)
		}
		for _, n := range all(ss2, ss3) {
			if out := mustXroadNode(t, ctx, n, "reseed", "/root/renewed-seed"); !strings.Contains(out, "knows ss4") {
				t.Errorf("reseed on %s: %s", n.Name, out)
			}
		}
		if out := mustXroadNode(t, ctx, ss1, "reseed", "/root/renewed-seed"); !strings.Contains(out, "adds no secondary") {
			t.Errorf("second reseed on the primary: %s", out)
		}
		if got := sql(t, ctx, ss1, "postgres", "SELECT count(*) FROM pg_settings WHERE pending_restart"); got != "0" {
			t.Errorf("the primary waits for a restart after reseed (%s settings)", got)
		}
		ss4 := tc.boot(t, "ss4")
		waitProvisioned(t, ctx, ss4)
		expectHealthy(t, ctx, ss4)
		expectStreaming(t, ctx, ss1, "ss2", "ss3", "ss4")
		for _, n := range all(ss1, ss2, ss3, ss4) {
			if got := sql(t, ctx, n, "postgres", "SHOW max_wal_senders"); got != senders {
				t.Errorf("%s: max_wal_senders %s, the primary's %s", n.Name, got, senders)
			}
		}
		ss1.MustExec(ctx, "sh", "-c", "echo added > /etc/xroad/signer/added-probe && chown xroad:xroad /etc/xroad/signer/added-probe")
		mustXroadNode(t, ctx, ss4, "sync", "now")
		if out, err := ss4.Exec(ctx, "cat", "/etc/xroad/signer/added-probe"); err != nil || strings.TrimSpace(out) != "added" {
			t.Errorf("ss4 does not sync /etc/xroad from the primary: %v %s", err, out)
		}
		if st, raw := nodeStatus(t, ctx, ss2); st.Node.Role != "secondary" {
			t.Errorf("ss2 status after reseed:\n%s", raw)
		}
		// ss4 stays: the primary lists it now, and the upgrade takes it along.
		secondaries = append(secondaries, ss4)
	})

	t.Run("rolling upgrade steps in guide order", func(t *testing.T) {
		repo, err := fixtures.BuildRepo(ctx, "", UpgradeVersion)
		if err != nil {
			t.Fatal(err)
		}
		schema := func(n *cluster.Node) string {
			return sql(t, ctx, n, "serverconf", "SELECT version FROM serverconf.fixture_schema_version")
		}
		before := schema(ss1)
		for _, s := range secondaries {
			mustXroadNode(t, ctx, s, "upgrade", "prepare")
		}
		if out, code := xroadNode(ctx, ss2, "upgrade", "prepare"); code != 3 || !strings.Contains(out, "already prepared") {
			t.Errorf("second prepare: exit %d:\n%s", code, out)
		}
		if out, code := xroadNode(ctx, ss2, "upgrade", "finish"); code != 3 || !strings.Contains(out, "upgrade start") {
			t.Errorf("finish before start on a secondary: exit %d:\n%s", code, out)
		}
		out := mustXroadNode(t, ctx, ss1, "upgrade", "prepare", "--drain-timeout", "1m")
		for _, want := range []string{"Maintenance mode set: false => true", "drained", "services stopped"} {
			if !strings.Contains(out, want) {
				t.Errorf("primary prepare does not say %q:\n%s", want, out)
			}
		}
		// What the upgraded primary writes must not reach the secondaries
		// before their own turn: its rows, its files and the schema its new
		// packages migrate.
		sql(t, ctx, ss1, "serverconf", "INSERT INTO day2_probe VALUES ('upgraded primary')")
		ss1.MustExec(ctx, "sh", "-c", "echo v2 > /etc/xroad/signer/day2-probe")
		upgradePackages(t, ctx, ss1, repo)
		if got := schema(ss1); got != UpgradeVersion {
			t.Errorf("the primary's serverconf schema after its packages: %s, want %s", got, UpgradeVersion)
		}
		mustXroadNode(t, ctx, ss1, "upgrade", "finish")
		if code, _ := health(ctx, ss1); code != 200 {
			t.Errorf("primary health after finish: %d", code)
		}
		// The write has reached each secondary (received) and is held back
		// (not replayed): positions, not a pause, prove it.
		fn := pgOf(t, ss1).Functions
		written := sql(t, ctx, ss1, "serverconf", "SELECT "+fn.CurrentLSN+"()")
		for _, s := range secondaries {
			eventually(t, ctx, time.Minute, s.Name+" receives the upgraded primary's WAL", func() (bool, string) {
				got, err := querySQL(ctx, s, serverconfPort, "serverconf",
					fmt.Sprintf("SELECT %s(%s(), '%s') >= 0", fn.LSNDiff, fn.LastReceive, written))
				return got == "t", fmt.Sprint(got, err)
			})
			if held := sql(t, ctx, s, "serverconf", fmt.Sprintf("SELECT %s(%s(), '%s') < 0", fn.LSNDiff, fn.LastReplay, written)); held != "t" {
				t.Errorf("%s replayed past the upgraded primary's write before its turn", s.Name)
			}
		}
		for _, s := range secondaries {
			if got := sql(t, ctx, s, "serverconf", "SELECT count(*) FROM day2_probe"); got != "1" {
				t.Errorf("%s applied the upgraded primary's write before its turn: %s rows", s.Name, got)
			}
			if got := schema(s); got != before {
				t.Errorf("%s has the upgraded schema %s before its turn", s.Name, got)
			}
		}
		for _, s := range secondaries {
			// Guide 7.2.3 steps 1-3: out of the balancer, services stopped,
			// replay resumed and caught up, all before the packages change.
			out := mustXroadNode(t, ctx, s, "upgrade", "start", "--drain-timeout", "1m")
			for _, want := range []string{"Maintenance mode set: false => true", "drained", "services stopped", "WAL replay resumed", "caught up"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s start does not say %q:\n%s", s.Name, want, out)
				}
			}
			if got := sql(t, ctx, s, "serverconf", "SELECT count(*) FROM day2_probe"); got != "2" {
				t.Errorf("%s: replay not caught up before its packages: %s rows", s.Name, got)
			}
			if got := schema(s); got != UpgradeVersion {
				t.Errorf("%s meets its new packages with schema %s, want the primary's %s", s.Name, got, UpgradeVersion)
			}
			upgradePackages(t, ctx, s, repo)
			out = mustXroadNode(t, ctx, s, "upgrade", "finish")
			for _, want := range []string{"sync resumed", "synced", "answers 200", "upgrade finished"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s finish does not say %q:\n%s", s.Name, want, out)
				}
			}
			if got := strings.TrimSpace(s.MustExec(ctx, "cat", "/etc/xroad/signer/day2-probe")); got != "v2" {
				t.Errorf("%s after finish: day2-probe %q", s.Name, got)
			}
		}
		for _, n := range append(all(ss1), secondaries...) {
			expectHealthy(t, ctx, n)
		}
	})
}

// upgradePackages upgrades every X-Road package on n from repo, in place,
// as an operator does between `upgrade prepare` (or `start`) and `finish`:
// the X-Road services are stopped before and stay stopped after.
func upgradePackages(t *testing.T, ctx context.Context, n *cluster.Node, repo *fixtures.Repo) {
	t.Helper()
	const stopped = "xroad-proxy"
	if st := strings.TrimSpace(n.MustExec(ctx, "sh", "-c", "systemctl is-active "+stopped+" || true")); st != "inactive" {
		t.Errorf("%s: %s is %s while its packages change", n.Name, stopped, st)
	}
	if _, err := repo.AddToRootfs(ctx, n.Root()); err != nil {
		t.Fatal(err)
	}
	only := []string{"-o", "Dir::Etc::sourcelist=" + fixtures.RootfsListFile, "-o", "Dir::Etc::sourceparts=-"}
	n.MustExec(ctx, append(append([]string{"apt-get"}, only...), "update", "-q")...)
	var pkgs []string
	for _, p := range strings.Fields(n.MustExec(ctx, "dpkg-query", "-W", "-f", "${Package}\\n", "xroad-*")) {
		pkgs = append(pkgs, p+"="+UpgradeVersion)
	}
	install := append(append([]string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get"}, only...), "install", "-q", "-y", "--allow-downgrades")
	n.MustExec(ctx, append(install, pkgs...)...)
	if v := n.MustExec(ctx, "dpkg-query", "-W", "-f", "${Version}", "xroad-proxy"); v != UpgradeVersion {
		t.Errorf("%s: xroad-proxy %s after the upgrade, want %s", n.Name, v, UpgradeVersion)
	}
	if st := strings.TrimSpace(n.MustExec(ctx, "sh", "-c", "systemctl is-active "+stopped+" || true")); st != "inactive" {
		t.Errorf("%s: the package upgrade started %s (%s)", n.Name, stopped, st)
	}
}

// xroadNode runs xroad-node on the node and returns its output and exit code.
func xroadNode(ctx context.Context, n *cluster.Node, args ...string) (string, int) {
	out, err := n.Exec(ctx, append([]string{"xroad-node"}, args...)...)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &exit):
		return out, exit.ExitCode()
	}
	return fmt.Sprint(err), -1
}

func mustXroadNode(t *testing.T, ctx context.Context, n *cluster.Node, args ...string) string {
	t.Helper()
	out, code := xroadNode(ctx, n, args...)
	if code != 0 {
		t.Fatalf("%s: xroad-node %s: exit %d\n%s", n.Name, strings.Join(args, " "), code, out)
	}
	return out
}

// health asks the node's health check port from the host, as a load
// balancer does.
func health(ctx context.Context, n *cluster.Node) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s:%d/", n.Addr, metadata.DefaultHealthCheckPort), nil)
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return resp.StatusCode, string(b)
}
