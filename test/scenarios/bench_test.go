package scenarios

import (
	"context"
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

// BenchmarkClusterColdBoot boots a primary and two secondaries from the
// built image at once and measures the time until the cluster has
// converged: both secondaries streaming and synced, every node healthy.
// Target: 60 s on 2 cores.
func BenchmarkClusterColdBoot(b *testing.B) {
	imageLayers(b) // the image build is not part of the boot
	var total time.Duration
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		tc := newCluster(b, 2)
		start := time.Now()
		nodes := all(tc.boot(b, "ss1"), tc.boot(b, "ss2"), tc.boot(b, "ss3"))
		for {
			view := clusterstatus.Collect(ctx, nodes)
			ok, waiting := view.Converged()
			if ok {
				break
			}
			if ctx.Err() != nil {
				b.Fatalf("not converged: %s", waiting)
			}
			time.Sleep(500 * time.Millisecond)
		}
		total += time.Since(start)
		cancel()
		for _, n := range nodes {
			n.Destroy()
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/converged")
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
