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
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/status"
	"xroad-appliance/test/cluster"
	"xroad-appliance/test/clusterstatus"
)

// Ports of the serverconf and the default instance (guide 4.2).
const (
	serverconfPort = "5433"
	defaultPort    = "5432"
)

// pgOf returns the PostgreSQL facts baked into the node's image: units,
// data and configuration directories and binaries of its profile.
func pgOf(t testing.TB, n *cluster.Node) *profiles.PostgreSQL {
	t.Helper()
	path := filepath.Join(n.Root(), nodestate.FactsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := profiles.ParseFacts(path, b)
	if err != nil {
		t.Fatal(err)
	}
	return &f.PG
}

// sql runs a query on the node's serverconf instance as postgres.
func sql(t *testing.T, ctx context.Context, n *cluster.Node, db, query string) string {
	t.Helper()
	return sqlOn(t, ctx, n, serverconfPort, db, query)
}

// sqlOn runs a query as postgres on the node's instance on port.
func sqlOn(t *testing.T, ctx context.Context, n *cluster.Node, port, db, query string) string {
	t.Helper()
	out, err := querySQL(ctx, n, port, db, query)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// querySQL runs a query as postgres on the node's instance on port, for
// callers that wait until it succeeds.
func querySQL(ctx context.Context, n *cluster.Node, port, db, query string) (string, error) {
	out, err := n.Exec(ctx, "runuser", "-u", "postgres", "--",
		"psql", "-X", "-qtA", "-v", "ON_ERROR_STOP=1", "-p", port, "-d", db, "-c", query)
	return strings.TrimSpace(out), err
}

// eventually retries cond until it holds or the timeout passes.
func eventually(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not within %s; last: %s", what, timeout, last)
		}
		time.Sleep(time.Second)
	}
}

// modeOwner is `stat`'s octal mode and owner:group of a path on the node.
func modeOwner(t *testing.T, ctx context.Context, n *cluster.Node, path string) string {
	t.Helper()
	out, err := n.Exec(ctx, "stat", "-c", "%a %U:%G", path)
	if err != nil {
		return "missing"
	}
	return strings.TrimSpace(out)
}

// treeState fingerprints everything provisioning writes: content, mode and
// owner of each file under the node-managed trees, and the serverconf system
// identifier. The result file is left out: a refused run must record why.
func treeState(t *testing.T, ctx context.Context, n *cluster.Node) string {
	t.Helper()
	script := `for d in /etc/xroad /etc/postgresql /var/lib/xroad-node /home/xroad-slave /var/lib/xroad/.ssh /etc/systemd/system; do
  [ -e "$d" ] || continue
  find "$d" -xdev ! -name result.json -printf '%p %m %u:%g %l\n' ; find "$d" -xdev -type f ! -name result.json -exec sha256sum {} +
done | sort | sha256sum`
	tree := strings.TrimSpace(n.MustExec(ctx, "sh", "-c", script))
	sysid := strings.TrimSpace(n.MustExec(ctx, "sh", "-c",
		pgOf(t, n).BinDir+"/pg_controldata "+pgOf(t, n).Serverconf.DataDir+" | sed -n 's/^Database system identifier: *//p'"))
	return fmt.Sprintf("tree %s sysid %s", tree, sysid)
}

// nodeStatus runs `xroad-node status --json` on the node.
func nodeStatus(t *testing.T, ctx context.Context, n *cluster.Node) (*status.Report, string) {
	t.Helper()
	r, raw, err := clusterstatus.Of(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return r, raw
}

// expectHealthy waits until the node's status says healthy (a fresh
// secondary needs its first timer-driven sync) and its health port answers 200.
func expectHealthy(t *testing.T, ctx context.Context, n *cluster.Node) *status.Report {
	t.Helper()
	var s *status.Report
	eventually(t, ctx, 150*time.Second, n.Name+" healthy", func() (bool, string) {
		var out string
		s, out = nodeStatus(t, ctx, n)
		return s.Healthy && s.HealthCheck.StatusCode == 200, out
	})
	return s
}

// expectStreaming waits until pg_stat_replication on the primary lists
// exactly the named secondaries, each streaming under its node name.
func expectStreaming(t *testing.T, ctx context.Context, primary *cluster.Node, secondaries ...string) {
	t.Helper()
	var want []string
	for _, s := range secondaries {
		want = append(want, s+":streaming")
	}
	eventually(t, ctx, 60*time.Second, "pg_stat_replication on "+primary.Name+" = "+strings.Join(want, ", "), func() (bool, string) {
		got := sql(t, ctx, primary, "postgres", "SELECT application_name || ':' || state FROM pg_stat_replication ORDER BY 1")
		return got == strings.Join(want, "\n"), got
	})
}
