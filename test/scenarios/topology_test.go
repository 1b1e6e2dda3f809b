package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"xroad-appliance/builder/kit"
	"xroad-appliance/test/cluster"
)

// TestRollingReplacementAndFailover rolls a three-node cluster from image v1
// to v2, one node at a time, while a load balancer's view (the health port
// of every node, asked from the host every second) never has fewer than two
// nodes answering 200: the secondaries are replaced by fresh v2 nodes; the
// primary hands over, a v2 secondary is promoted, the other repointed, and
// the old primary comes back as a v2 secondary of the new one. Then the new
// primary fails: the remaining secondary is promoted and the rejoined node
// repointed to it.
func TestRollingReplacementAndFailover(t *testing.T) {
	tc := newCluster(t, 2)
	v2 := imageOf(t, tc.profile, UpgradeVersion)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	nodes := map[string]*cluster.Node{}
	for _, name := range []string{"ss1", "ss2", "ss3"} {
		nodes[name] = tc.boot(t, name)
	}
	for _, n := range nodes {
		waitProvisioned(t, ctx, n)
	}
	for _, n := range nodes {
		expectHealthy(t, ctx, n)
	}
	sql(t, ctx, nodes["ss1"], "serverconf", "CREATE TABLE topology_probe (v text); INSERT INTO topology_probe VALUES ('v1')")

	t.Run("refused out of order", func(t *testing.T) {
		before := treeState(t, ctx, nodes["ss2"])
		cases := []struct {
			node string
			args []string
			says string
		}{
			{"ss1", []string{"promote"}, "already the primary"},
			{"ss2", []string{"promote"}, "still streams WAL from the primary"},
			{"ss1", []string{"repoint", "--primary", nodes["ss2"].Addr}, "is the primary"},
			{"ss2", []string{"repoint", "--primary", "10.99.0.1"}, "not a secondary"},
			{"ss2", []string{"repoint", "--primary", nodes["ss2"].Addr}, "is this node"},
			{"ss2", []string{"handover"}, "is a secondary"},
		}
		for _, c := range cases {
			out, code := xroadNode(ctx, nodes[c.node], c.args...)
			if code != 3 || !strings.Contains(out, c.says) {
				t.Errorf("%s: xroad-node %s: exit %d, want 3 saying %q:\n%s", c.node, strings.Join(c.args, " "), code, c.says, out)
			}
		}
		if after := treeState(t, ctx, nodes["ss2"]); after != before {
			t.Error("ss2: a refused command changed the node")
		}
	})

	watch := watchHealth(ctx, nodes["ss1"].Addr, nodes["ss2"].Addr, nodes["ss3"].Addr)
	replace := func(t *testing.T, name string, seeds *kit.Result) {
		t.Helper()
		if err := nodes[name].Destroy(); err != nil {
			t.Fatal(err)
		}
		n := tc.createFrom(t, v2, seeds, name)
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		nodes[name] = n
		waitProvisioned(t, ctx, n)
		expectHealthy(t, ctx, n)
		if v := n.MustExec(ctx, "dpkg-query", "-W", "-f", "${Version}", "xroad-proxy"); v != UpgradeVersion {
			t.Errorf("%s runs xroad-proxy %s after replacement, want %s", name, v, UpgradeVersion)
		}
	}

	t.Run("rolling replacement v1 to v2", func(t *testing.T) {
		replace(t, "ss3", tc.kit)
		replace(t, "ss2", tc.kit)
		expectStreaming(t, ctx, nodes["ss1"], "ss2", "ss3")

		out := mustXroadNode(t, ctx, nodes["ss1"], "handover")
		t.Logf("ss1 handover: %s", out)
		if out, code := xroadNode(ctx, nodes["ss1"], "handover"); code != 3 || !strings.Contains(out, "already handed over") {
			t.Errorf("second handover: exit %d:\n%s", code, out)
		}
		t.Logf("ss2 promote: %s", mustXroadNode(t, ctx, nodes["ss2"], "promote"))
		t.Logf("ss3 repoint: %s", mustXroadNode(t, ctx, nodes["ss3"], "repoint", "--primary", nodes["ss2"].Addr))

		// The old primary returns as a v2 secondary of ss2, with seeds from
		// the same kit naming ss2 the primary.
		replace(t, "ss1", tc.rekit(t, "ss2"))
		expectStreaming(t, ctx, nodes["ss2"], "ss1", "ss3")

		sql(t, ctx, nodes["ss2"], "serverconf", "INSERT INTO topology_probe VALUES ('v2')")
		nodes["ss2"].MustExec(ctx, "sh", "-c", "echo rolled > /etc/xroad/topology-probe && chown xroad:xroad /etc/xroad/topology-probe")
		for _, name := range []string{"ss1", "ss3"} {
			n := nodes[name]
			eventually(t, ctx, time.Minute, name+" replays ss2's write", func() (bool, string) {
				got := sql(t, ctx, n, "serverconf", "SELECT string_agg(v, ',' ORDER BY v) FROM topology_probe")
				return got == "v1,v2", got
			})
			mustXroadNode(t, ctx, n, "sync", "now")
			if got := n.MustExec(ctx, "cat", "/etc/xroad/topology-probe"); strings.TrimSpace(got) != "rolled" {
				t.Errorf("%s: /etc/xroad not synced from ss2: %q", name, got)
			}
		}
		st, raw := nodeStatus(t, ctx, nodes["ss2"])
		if st.Node.Role != "primary" || st.Node.ProvisionedAs != "secondary" {
			t.Errorf("ss2 status after promotion:\n%s", raw)
		}
		if out, code := xroadNode(ctx, nodes["ss2"], "provision", "--phase", "standby"); code != 3 || !strings.Contains(out, "no longer apply") {
			t.Errorf("provision --phase on a promoted node: exit %d:\n%s", code, out)
		}

		samples, degraded, violations := watch.stop()
		t.Logf("health watched %d times during the roll, %d of them with a node down", samples, degraded)
		if samples < 30 || degraded == 0 {
			t.Errorf("the watch took %d samples and saw a node down in %d: it did not watch the roll", samples, degraded)
		}
		for _, v := range violations {
			t.Error(v)
		}
	})

	t.Run("failover after the primary stops", func(t *testing.T) {
		if err := nodes["ss2"].Stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("ss3 promote: %s", mustXroadNode(t, ctx, nodes["ss3"], "promote"))
		t.Logf("ss1 repoint: %s", mustXroadNode(t, ctx, nodes["ss1"], "repoint", "--primary", "ss3"))
		sql(t, ctx, nodes["ss3"], "serverconf", "INSERT INTO topology_probe VALUES ('v3')")
		eventually(t, ctx, time.Minute, "ss1 replays ss3's write", func() (bool, string) {
			got := sql(t, ctx, nodes["ss1"], "serverconf", "SELECT string_agg(v, ',' ORDER BY v) FROM topology_probe")
			return got == "v1,v2,v3", got
		})
		expectStreaming(t, ctx, nodes["ss3"], "ss1")
		for _, name := range []string{"ss1", "ss3"} {
			if code, body := health(ctx, nodes[name]); code != 200 {
				t.Errorf("%s health after failover: %d %s", name, code, body)
			}
		}
	})
}

// createFrom makes node name from layers with its seed from seeds.
func (tc *testCluster) createFrom(t testing.TB, layers []string, seeds *kit.Result, name string) *cluster.Node {
	t.Helper()
	for _, n := range seeds.Nodes {
		if n.Name == name {
			seed, err := cluster.SeedDir(n.Dir)
			if err != nil {
				t.Fatal(err)
			}
			return tc.CreateFrom(layers, name, n.Address, seed)
		}
	}
	t.Fatalf("no node %s in the kit", name)
	return nil
}

// rekit runs the kit again over the same directory with primary as the
// cluster's primary and the added secondaries, keeping every key: the seeds
// a replaced node boots with after a promotion, or every node's renewed seed
// when secondaries are added.
func (tc *testCluster) rekit(t testing.TB, primary string, added ...kit.Node) *kit.Result {
	t.Helper()
	spec := kit.Spec{Cluster: "test", Options: kit.DefaultOptions(), Profile: tc.profile}
	for _, n := range tc.kit.Nodes {
		node := kit.Node{Name: n.Name, Address: n.Address}
		if n.Name == primary {
			spec.Primary = node
		} else {
			spec.Secondaries = append(spec.Secondaries, node)
		}
	}
	spec.Secondaries = append(spec.Secondaries, added...)
	res, err := kit.Generate(spec, nil, tc.kit.Dir, kit.Options{Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	tc.kit = res
	return res
}

// seedOf is node name's user-data from the kit.
func (tc *testCluster) seedOf(t testing.TB, name string) []byte {
	t.Helper()
	for _, n := range tc.kit.Nodes {
		if n.Name == name {
			b, err := os.ReadFile(filepath.Join(n.Dir, "user-data"))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no node %s in the kit", name)
	return nil
}

// healthWatch asks every address's health port once a second, as a load
// balancer does, and records each moment fewer than two answered 200.
type healthWatch struct {
	cancel     context.CancelFunc
	done       chan struct{}
	mu         sync.Mutex
	samples    int
	degraded   int // samples with some node not answering 200
	violations []string
}

func watchHealth(ctx context.Context, addrs ...string) *healthWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &healthWatch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			codes := make([]int, len(addrs))
			var wg sync.WaitGroup
			for i, a := range addrs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// A load balancer's probe gives up within its interval.
					probe, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
					defer cancel()
					codes[i], _ = health(probe, &cluster.Node{Addr: a})
				}()
			}
			wg.Wait()
			if ctx.Err() != nil {
				return
			}
			ok := 0
			for _, c := range codes {
				if c == 200 {
					ok++
				}
			}
			w.mu.Lock()
			w.samples++
			if ok < len(addrs) {
				w.degraded++
			}
			if ok < 2 {
				w.violations = append(w.violations, fmt.Sprintf("%s: only %d nodes answered 200 (%v for %v)",
					time.Now().Format(time.TimeOnly), ok, codes, addrs))
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// stop ends the watch and returns how many samples it took, how many of
// them saw a node down, and the moments fewer than two nodes answered.
func (w *healthWatch) stop() (samples, degraded int, violations []string) {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.samples, w.degraded, w.violations
}
