package scenarios

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"xroad-appliance/test/cluster"
	"xroad-appliance/test/clusterstatus"
)

// BenchmarkSecondaryProvision measures a secondary from the start of
// xroad-provision.service to streaming with its first sync done (the
// provisioner's verify phase requires both), beside a bare pg_basebackup of
// the same primary from the same node.
func BenchmarkSecondaryProvision(b *testing.B) {
	tc := newCluster(b, b.N)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	ss1 := tc.boot(b, "ss1")
	// The primary's last phases wait for its secondaries: start timing
	// once it is ready to serve them.
	for {
		if _, err := ss1.Exec(ctx, "test", "-e", "/var/lib/xroad-node/phases/local-ini.done"); err == nil {
			break
		}
		if ctx.Err() != nil {
			b.Fatal("primary not ready")
		}
		time.Sleep(time.Second)
	}
	var provision, basebackup time.Duration
	for i := 0; i < b.N; i++ {
		n := tc.boot(b, "ss"+strconv.Itoa(2+i))
		waitProvisioned(b, ctx, n)
		provision += unitRunTime(b, ctx, n, "xroad-provision.service")
		start := time.Now()
		n.MustExec(ctx, "sh", "-c", `d=$(mktemp -d) && chown postgres $d && cd /tmp &&
runuser -u postgres -- env PGSSLMODE=verify-ca PGSSLROOTCERT=/etc/xroad/postgresql/ca.crt PGSSLCERT=/etc/xroad/postgresql/server.crt PGSSLKEY=/etc/xroad/postgresql/server.key \
  pg_basebackup -h `+tc.Addr(11)+` -p 5433 -U `+n.Name+` -D $d/data -X stream -c fast --no-password && rm -rf $d`)
		basebackup += time.Since(start)
	}
	b.ReportMetric(provision.Seconds()/float64(b.N), "s/provision")
	b.ReportMetric(basebackup.Seconds()/float64(b.N), "s/bare-basebackup")
}

// BenchmarkClusterColdBoot boots a primary with two secondaries, then a
// primary with eight, from the built image at once, and measures each until
// the cluster has converged: every secondary streaming and synced, every
// node healthy. Per run it prints `cluster-boot nodes=N converged_s=X` and
// where each node's time went (systemd's critical chain to
// xroad-provision.service, each provisioning phase, the waits), then the
// ratio of the larger boot to the smaller. Targets (ubuntu-24.04, 2 cores):
// 3 nodes <= 15 s, 1 + 8 nodes <= 1.5 x that.
func BenchmarkClusterColdBoot(b *testing.B) {
	imageLayers(b) // the image build is not part of the boot
	converged := map[int]float64{}
	for _, secondaries := range []int{2, 8} {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			total += clusterBoot(b, secondaries)
		}
		avg := total.Seconds() / float64(b.N)
		converged[secondaries+1] = avg
		fmt.Printf("cluster-boot nodes=%d converged_s=%.1f\n", secondaries+1, avg)
		b.ReportMetric(avg, fmt.Sprintf("s/converged-%d-nodes", secondaries+1))
	}
	fmt.Printf("cluster-boot ratio nodes=9/nodes=3 %.2f\n", converged[9]/converged[3])
}

// BenchmarkTenSecondaries boots a primary with ten secondaries at once, the
// size at which a standby's default max_wal_senders (10) falls below a
// primary sized for its secondaries, which PostgreSQL 12 and later refuse:
// every node must hold the cluster's one value. Prints
// `cluster-boot nodes=11 converged_s=X`.
func BenchmarkTenSecondaries(b *testing.B) {
	imageLayers(b)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		total += clusterBoot(b, 10)
	}
	avg := total.Seconds() / float64(b.N)
	fmt.Printf("cluster-boot nodes=11 converged_s=%.1f\n", avg)
	b.ReportMetric(avg, "s/converged-11-nodes")
}

// BenchmarkJoin boots a primary from its kit and, once it is provisioned,
// secondaries from the one join user-data at once: one, then eight. It
// prints `join nodes=N converged_s=X` (from the joiners' boot to the
// cluster converged) and the ratio of eight joins to one. Target: 1.5.
func BenchmarkJoin(b *testing.B) {
	imageLayers(b)
	converged := map[int]float64{}
	for _, joiners := range []int{1, 8} {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			total += joinBoot(b, joiners)
		}
		avg := total.Seconds() / float64(b.N)
		converged[joiners] = avg
		fmt.Printf("join nodes=%d converged_s=%.1f\n", joiners+1, avg)
		b.ReportMetric(avg, fmt.Sprintf("s/converged-%d-joiners", joiners))
	}
	fmt.Printf("join ratio joiners=8/joiners=1 %.2f\n", converged[8]/converged[1])
}

// joinBoot provisions a primary, then boots n joiners at once and returns
// the time until the cluster converged, printing each joiner's breakdown.
func joinBoot(b *testing.B, joiners int) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	tc := newJoinCluster(b)
	primary := tc.boot(b, "ss1")
	waitProvisioned(b, ctx, primary)
	ud, err := os.ReadFile(tc.kit.Join.UserData)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	nodes := []*cluster.Node{primary}
	for i := 0; i < joiners; i++ {
		n := tc.createJoiner(b, "ss"+strconv.Itoa(2+i), tc.Addr(12+i), ud)
		if err := n.Start(); err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	took := waitConverged(b, ctx, nodes, start)
	cpu := cpuUse(nodes[1:], took)
	for _, n := range nodes[1:] {
		fmt.Print(bootBreakdown(ctx, n), cpu[n])
	}
	for _, n := range nodes {
		n.Destroy()
	}
	return took
}

// waitConverged waits until every node's status says the cluster converged
// and returns the time since start.
func waitConverged(b *testing.B, ctx context.Context, nodes []*cluster.Node, start time.Time) time.Duration {
	clusterstatus.WaitProvisioned(ctx, nodes)
	fmt.Printf("  every node provisioned %.1fs after boot\n", time.Since(start).Seconds())
	for {
		view := clusterstatus.Collect(ctx, nodes)
		ok, waiting := view.Converged()
		if ok {
			return time.Since(start)
		}
		if ctx.Err() != nil {
			b.Fatalf("not converged: %s", waiting)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// clusterBoot boots a primary and n secondaries at once and returns the
// time until the cluster converged, printing each node's breakdown.
func clusterBoot(b *testing.B, secondaries int) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	tc := newCluster(b, secondaries)
	start := time.Now()
	nodes := []*cluster.Node{tc.boot(b, "ss1")}
	for i := 0; i < secondaries; i++ {
		nodes = append(nodes, tc.boot(b, "ss"+strconv.Itoa(2+i)))
	}
	took := waitConverged(b, ctx, nodes, start)
	cpu := cpuUse(nodes, took)
	for _, n := range nodes {
		fmt.Print(bootBreakdown(ctx, n), cpu[n])
	}
	for _, n := range nodes {
		n.Destroy()
	}
	return took
}

// cpuUse reads, at convergence, the processor time each node has used, and
// prints the sum against what the host's cores can give in the time the
// boot took: a boot that used nearly all of it was bound by the cores, not
// by waits.
func cpuUse(nodes []*cluster.Node, took time.Duration) map[*cluster.Node]string {
	lines := map[*cluster.Node]string{}
	var total time.Duration
	for _, n := range nodes {
		used, err := n.CPU()
		if err != nil {
			lines[n] = fmt.Sprintf("    cpu   %v\n", err)
			continue
		}
		total += used
		lines[n] = fmt.Sprintf("    cpu   %.1fs used by the node's processes\n", used.Seconds())
	}
	cores := runtime.NumCPU()
	fmt.Printf("cpu nodes=%d used_s=%.1f cores=%d available_s=%.1f busy=%.0f%%\n", len(nodes), total.Seconds(), cores,
		took.Seconds()*float64(cores), 100*total.Seconds()/(took.Seconds()*float64(cores)))
	return lines
}

// bootBreakdown says where a node's boot went: systemd's critical chain to
// the provisioning unit, how long provisioning ran, and each phase that took
// 0.1 s or more (waits for the primary or the secondaries among them).
func bootBreakdown(ctx context.Context, n *cluster.Node) string {
	var out strings.Builder
	fmt.Fprintf(&out, "  %s:\n", n.Name)
	chain, _ := n.Exec(ctx, "systemd-analyze", "critical-chain", "--no-pager", "xroad-provision.service")
	for _, line := range strings.Split(chain, "\n") {
		if strings.Contains(line, "@") {
			fmt.Fprintf(&out, "    chain %s\n", strings.TrimSpace(line))
		}
	}
	// The slowest units of the boot, wherever they are: what runs beside
	// provisioning takes the same cores.
	if blame, err := n.Exec(ctx, "systemd-analyze", "blame", "--no-pager"); err == nil {
		lines := strings.Split(strings.TrimSpace(blame), "\n")
		for _, line := range lines[:min(len(lines), 8)] {
			fmt.Fprintf(&out, "    unit  %s\n", strings.TrimSpace(line))
		}
	}
	// Monotonic timestamps are the host kernel's: the node's own systemd
	// started at UserspaceTimestampMonotonic.
	manager, _ := n.Exec(ctx, "systemctl", "show", "-p", "UserspaceTimestampMonotonic")
	if run, err := n.Exec(ctx, "systemctl", "show", "-p", "ExecMainStartTimestampMonotonic", "-p", "ExecMainExitTimestampMonotonic", "xroad-provision.service"); err == nil {
		boot, _ := strconv.ParseInt(property(manager, "UserspaceTimestampMonotonic"), 10, 64)
		s, _ := strconv.ParseInt(property(run, "ExecMainStartTimestampMonotonic"), 10, 64)
		e, _ := strconv.ParseInt(property(run, "ExecMainExitTimestampMonotonic"), 10, 64)
		fmt.Fprintf(&out, "    provisioning from %.1fs to %.1fs after boot\n", float64(s-boot)/1e6, float64(e-boot)/1e6)
	}
	journal, _ := n.Exec(ctx, "journalctl", "-b", "-u", "xroad-provision.service", "-o", "cat", "--no-pager")
	for _, line := range strings.Split(journal, "\n") {
		phase, seconds := logField(line, "phase"), logField(line, "seconds")
		switch {
		case strings.Contains(line, `msg="joined the cluster"`):
			phase = "(join)"
		case !strings.Contains(line, `msg="phase applied"`):
			continue
		}
		if d, err := strconv.ParseFloat(seconds, 64); err == nil && d >= 0.1 {
			fmt.Fprintf(&out, "    phase %-22s %.2fs\n", phase, d)
		}
	}
	return out.String()
}

// logField is the value of key=value in a log/slog text line.
func logField(line, key string) string {
	_, rest, ok := strings.Cut(line, " "+key+"=")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, " ")
	return strings.Trim(v, `"`)
}

// unitRunTime is how long a oneshot unit's last run took.
func unitRunTime(b *testing.B, ctx context.Context, n *cluster.Node, unit string) time.Duration {
	out := n.MustExec(ctx, "systemctl", "show", "-p", "ExecMainStartTimestampMonotonic", "-p", "ExecMainExitTimestampMonotonic", unit)
	start, _ := strconv.ParseInt(property(out, "ExecMainStartTimestampMonotonic"), 10, 64)
	exit, _ := strconv.ParseInt(property(out, "ExecMainExitTimestampMonotonic"), 10, 64)
	if start == 0 || exit < start {
		b.Fatalf("%s: no run time for %s:\n%s", n.Name, unit, strings.TrimSpace(out))
	}
	return time.Duration(exit-start) * time.Microsecond
}
