package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xroad-appliance/provisioner/engine"
	"xroad-appliance/test/cluster"
	"xroad-appliance/test/nodeimage"
)

// crashEnvFile feeds XROAD_NODE_CRASH_AFTER to xroad-provision.service
// through a drop-in the test puts on the node before it boots.
const crashEnvFile = "/etc/xroad-node-test/crash.env"

// TestProvisionKilledAtPhaseBoundaries SIGKILLs the provisioner right after
// each phase's stamp (its fault-injection switch), on the primary and the
// secondary at once, restarts it, and expects a streaming, synced cluster.
func TestProvisionKilledAtPhaseBoundaries(t *testing.T) {
	tc := newCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	var nodes []*cluster.Node
	for _, name := range []string{"ss1", "ss2"} {
		nodes = append(nodes, tc.createCrashable(t, name))
	}
	// Both at once: the primary's verify phase waits for the secondary.
	errs := make(chan error, len(nodes))
	for _, n := range nodes {
		go func() { errs <- crashThroughEveryPhase(ctx, n) }()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	expectStreaming(t, ctx, nodes[0], "ss2")
	for _, n := range nodes {
		if left := n.MustExec(ctx, "sh", "-c", "ls -d "+pgOf(t, n).Serverconf.DataDir+".xroad-basebackup* 2>/dev/null || true"); left != "" {
			t.Errorf("%s: an interrupted backup was left in place: %s", n.Name, left)
		}
		expectHealthy(t, ctx, n)
	}
}

// TestSecondaryWaitsForPrimarySync holds the primary between its replication
// roles and its sync user, so the secondary can clone the database but not
// yet copy /etc/xroad: it must wait there, not fail, and finish once the
// primary goes on. On the way, what breaks is mended without a reboot or a
// hand: the secondary's base backup is broken off on the primary mid-way
// (its walsender terminated) and is taken again within the phase; the
// secondary's provisioner is killed while it waits and systemd starts it
// again; result.json lists both. Once provisioned, the primary's serverconf
// postmaster and the secondary's xroad-proxy are killed and come back.
func TestSecondaryWaitsForPrimarySync(t *testing.T) {
	tc := newCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	ss1 := tc.createCrashable(t, "ss1")
	if err := setCrashAfter(ss1, "roles"); err != nil {
		t.Fatal(err)
	}
	if err := ss1.Start(); err != nil {
		t.Fatal(err)
	}
	if _, result, err := waitUnitDone(ctx, ss1); err != nil || result != "signal" {
		t.Fatalf("ss1 held after roles: %s %v", result, err)
	}

	// A database large enough that its backup takes a while, and a breaker
	// on the primary that terminates the secondary's backup connection as
	// soon as it shows in pg_stat_replication.
	sql(t, ctx, ss1, "postgres", "CREATE TABLE bulk AS SELECT g, repeat(md5(g::text), 30) AS pad FROM generate_series(1, 250000) g")
	broken := make(chan string, 1)
	go func() {
		out, err := ss1.Exec(ctx, "sh", "-c", `for i in $(seq 1 6000); do
  if runuser -u postgres -- psql -X -qtA -p `+serverconfPort+` -d postgres -c "SELECT pg_terminate_backend(pid) FROM (SELECT pid FROM pg_stat_replication WHERE application_name = 'ss2 basebackup' OFFSET 0) s" | grep -q t; then
    echo terminated; exit 0
  fi
  sleep 0.05
done; exit 1`)
		if err != nil {
			out += err.Error()
		}
		broken <- strings.TrimSpace(out)
	}()

	ss2 := tc.boot(t, "ss2")
	select {
	case out := <-broken:
		if out != "terminated" {
			t.Fatalf("the secondary's base backup was never seen on the primary: %s", out)
		}
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	waitingForSync := func() (bool, string) {
		out, _ := ss2.Exec(ctx, "systemctl", "show", "-p", "ActiveState", "-p", "StatusText", "-p", "ExecMainPID", "xroad-provision.service")
		return property(out, "ActiveState") == "activating" &&
			strings.Contains(property(out, "StatusText"), "/etc/xroad over SSH"), out
	}
	eventually(t, ctx, 5*time.Minute, "ss2 waiting for the primary's /etc/xroad", waitingForSync)

	// Killed while it waits: systemd starts it again, and it waits again.
	killed := property(ss2.MustExec(ctx, "systemctl", "show", "-p", "ExecMainPID", "xroad-provision.service"), "ExecMainPID")
	ss2.MustExec(ctx, "systemctl", "kill", "--signal=KILL", "xroad-provision.service")
	eventually(t, ctx, 3*time.Minute, "ss2's provisioner started again by systemd", func() (bool, string) {
		ok, out := waitingForSync()
		return ok && property(out, "ExecMainPID") != killed, out
	})

	if err := os.Remove(filepath.Join(ss1.Root(), crashEnvFile)); err != nil {
		t.Fatal(err)
	}
	ss1.MustExec(ctx, "systemctl", "reset-failed", "xroad-provision.service")
	ss1.MustExec(ctx, "systemctl", "start", "--no-block", "xroad-provision.service")
	for _, n := range all(ss1, ss2) {
		waitProvisioned(t, ctx, n)
	}
	expectStreaming(t, ctx, ss1, "ss2")
	for _, n := range all(ss1, ss2) {
		expectHealthy(t, ctx, n)
	}

	res := resultOf(t, ss2)
	if !hasAttempt(res, "basebackup", "retried", "pg_basebackup") || !hasAttempt(res, "initial-sync", "interrupted", "") {
		t.Errorf("ss2's result.json does not list the broken-off backup and the killed run: %+v", res.Attempts)
	}
	if left := ss2.MustExec(ctx, "sh", "-c", "ls -d "+pgOf(t, ss2).Serverconf.DataDir+".xroad-basebackup* 2>/dev/null || true"); left != "" {
		t.Errorf("ss2: a base backup was left in place: %s", left)
	}
	if st, raw := nodeStatus(t, ctx, ss2); len(st.Provisioning.MovedAside) != 1 || st.Provisioning.MovedAside[0].Kind != "replaced" || st.Provisioning.MovedAside[0].Bytes == 0 {
		t.Errorf("ss2's status does not report the one data directory its clone replaced:\n%s", raw)
	}
	if got := sql(t, ctx, ss2, "postgres", "SELECT count(*) FROM bulk"); got != "250000" {
		t.Errorf("ss2 has %s rows of the primary's 250000", got)
	}

	// Crashed services come back by themselves.
	unit := pgOf(t, ss1).Serverconf.Unit + ".service"
	postmaster := strings.TrimSpace(ss1.MustExec(ctx, "head", "-1", pgOf(t, ss1).Serverconf.DataDir+"/postmaster.pid"))
	ss1.MustExec(ctx, "kill", "-KILL", postmaster)
	eventually(t, ctx, 2*time.Minute, "ss1's serverconf instance restarted", func() (bool, string) {
		out, _ := ss1.Exec(ctx, "systemctl", "show", "-p", "ActiveState", "-p", "NRestarts", unit)
		pid, _ := ss1.Exec(ctx, "head", "-1", pgOf(t, ss1).Serverconf.DataDir+"/postmaster.pid")
		return property(out, "ActiveState") == "active" && property(out, "NRestarts") != "0" &&
			strings.TrimSpace(pid) != postmaster && strings.TrimSpace(pid) != "", out
	})
	expectStreaming(t, ctx, ss1, "ss2")
	proxy := property(ss2.MustExec(ctx, "systemctl", "show", "-p", "MainPID", "xroad-proxy.service"), "MainPID")
	if limit := property(ss2.MustExec(ctx, "systemctl", "show", "-p", "StartLimitIntervalUSec", "xroad-proxy.service"), "StartLimitIntervalUSec"); limit != "10min" {
		t.Errorf("xroad-proxy's start limit interval is %s, not the profile's", limit)
	}
	ss2.MustExec(ctx, "kill", "-KILL", proxy)
	eventually(t, ctx, 2*time.Minute, "ss2's xroad-proxy restarted", func() (bool, string) {
		out, _ := ss2.Exec(ctx, "systemctl", "show", "-p", "ActiveState", "-p", "MainPID", "xroad-proxy.service")
		return property(out, "ActiveState") == "active" && property(out, "MainPID") != proxy && property(out, "MainPID") != "0", out
	})
	for _, n := range all(ss1, ss2) {
		expectHealthy(t, ctx, n)
	}
}

// resultOf reads the node's result.json.
func resultOf(t *testing.T, n *cluster.Node) *engine.Result {
	t.Helper()
	b, err := n.ReadFile("/var/lib/xroad-node/result.json")
	if err != nil {
		t.Fatal(err)
	}
	var res engine.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

func hasAttempt(res *engine.Result, phase, outcome, text string) bool {
	for _, a := range res.Attempts {
		if a.Phase == phase && a.Outcome == outcome && strings.Contains(a.Error, text) {
			return true
		}
	}
	return false
}

// createCrashable creates the kit's node name with a drop-in that feeds
// crashEnvFile to the provisioner. These tests move the kill point and start
// the unit again themselves, so systemd's own restart is off here.
func (tc *testCluster) createCrashable(t *testing.T, name string) *cluster.Node {
	n := tc.create(t, name)
	dropIn := "[Unit]\nOnFailure=\n[Service]\nRestart=no\nEnvironmentFile=-" + crashEnvFile + "\n"
	if err := n.WriteFile("/etc/systemd/system/xroad-provision.service.d/crash.conf", []byte(dropIn), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

func setCrashAfter(n *cluster.Node, phase string) error {
	return n.WriteFile(crashEnvFile, []byte("XROAD_NODE_CRASH_AFTER="+phase+"\n"), 0o644)
}

// crashThroughEveryPhase boots the node with the provisioner set to kill
// itself after its first phase, and after each crash moves the kill point one
// phase on and starts the unit again; the last run, with no kill point, must
// finish the node.
func crashThroughEveryPhase(ctx context.Context, n *cluster.Node) error {
	phases, err := planPhases(n)
	if err != nil {
		return err
	}
	if err := setCrashAfter(n, phases[0]); err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		return err
	}
	for i := 0; i <= len(phases); i++ {
		want := "signal"
		if i == len(phases) {
			want = "success"
		}
		state, result, err := waitUnitDone(ctx, n)
		if err != nil {
			return err
		}
		if result != want {
			return fmt.Errorf("%s: run %d (crash after %q): %s/%s, want %s", n.Name, i, phaseOrNone(phases, i), state, result, want)
		}
		if i == len(phases) {
			return nil
		}
		if _, err := n.Exec(ctx, "test", "-e", "/var/lib/xroad-node/phases/"+phases[i]+".done"); err != nil {
			return fmt.Errorf("%s: killed after %s, but its stamp is missing", n.Name, phases[i])
		}
		if i+1 < len(phases) {
			err = setCrashAfter(n, phases[i+1])
		} else {
			err = os.Remove(filepath.Join(n.Root(), crashEnvFile))
		}
		if err != nil {
			return err
		}
		if err := restartUnit(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// restartUnit starts the failed xroad-provision.service again.
func restartUnit(ctx context.Context, n *cluster.Node) error {
	if _, err := n.Exec(ctx, "systemctl", "reset-failed", "xroad-provision.service"); err != nil {
		return err
	}
	_, err := n.Exec(ctx, "systemctl", "start", "--no-block", "xroad-provision.service")
	return err
}

func phaseOrNone(phases []string, i int) string {
	if i < len(phases) {
		return phases[i]
	}
	return ""
}

// planPhases lists the node's phases as `xroad-node plan` prints them,
// from the role document on the node's disk (cloud-init has not run yet, so
// it is read from the seed).
func planPhases(n *cluster.Node) ([]string, error) {
	out, err := exec.Command(filepath.Join(n.Root(), "usr/bin/xroad-node"), "plan",
		filepath.Join(n.Root(), "var/lib/cloud/seed/nocloud/user-data"), "--profile", nodeimage.DefaultProfile).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: xroad-node plan: %v\n%s", n.Name, err, out)
	}
	var phases []string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "== "); ok {
			if _, after, ok := strings.Cut(rest, ". "); ok {
				name, _, _ := strings.Cut(after, ":")
				phases = append(phases, name)
			}
		}
	}
	if len(phases) < 10 {
		return nil, fmt.Errorf("%s: only %d phases in the plan:\n%s", n.Name, len(phases), out)
	}
	return phases, nil
}

// waitUnitDone waits until xroad-provision.service is no longer starting.
func waitUnitDone(ctx context.Context, n *cluster.Node) (state, result string, err error) {
	for {
		out, _ := n.Exec(ctx, "systemctl", "show", "-p", "ActiveState", "-p", "Result", "xroad-provision.service")
		state, result = property(out, "ActiveState"), property(out, "Result")
		if state == "failed" || (state == "active" && result == "success") {
			return state, result, nil
		}
		select {
		case <-ctx.Done():
			return state, result, fmt.Errorf("%s: provisioning still %s: %w", n.Name, state, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
