package operations

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/retry"
	"xroad-appliance/units"
)

// TopologyWaits bound promote, repoint and handover.
type TopologyWaits struct {
	// Follow is how long repoint waits for WAL from the new primary and
	// handover for its secondaries to catch up.
	Follow  time.Duration
	Healthy time.Duration
}

// Promote makes this secondary the cluster's primary (guide 2.1.2: "some
// other node is manually promoted"). The old primary must be gone: while this
// node still streams WAL from it, promotion would split the cluster, so it is
// refused unless force says the operator has fenced the old primary.
func (n *Node) Promote(ctx context.Context, force bool, w TopologyWaits) error {
	if n.Doc.Role.IsCentralServer() {
		return n.promoteDatabase(ctx, force, w)
	}
	if n.isPrimary() {
		return refuse("promote: %s is already the primary of cluster %s", n.Doc.Node, n.Doc.Cluster)
	}
	if err := n.lacking("promote", profiles.FeatureWALReceiverView); err != nil {
		return err
	}
	if _, err := n.readUpgrade(); err == nil {
		return refuse("promote: an upgrade is prepared on this node; run `xroad-node upgrade finish` first")
	}
	// The secondaries that joined by token are in the replicated record only.
	promoted, err := n.withRecordedMembers(ctx).Promoted()
	if err != nil {
		return refuse("promote: %v", err)
	}
	if host, st, err := pg.WALReceiver(ctx, n.Facts.PG.Serverconf.Port); err != nil {
		return fmt.Errorf("promote: %w", err)
	} else if st == "streaming" && !force {
		return refuse("promote: this node still streams WAL from the primary %s; stop that node (or run `xroad-node handover` on it) first, or pass --force if it is fenced", host)
	}
	if paused, err := n.replayPaused(ctx); err != nil {
		return fmt.Errorf("promote: %w", err)
	} else if paused {
		// What was received is applied before the timeline forks.
		if err := n.ReplayResume(ctx); err != nil {
			return err
		}
	}
	if err := n.converge(ctx, phase.Promote, n.At(promoted, w.Follow, 0)); err != nil {
		return fmt.Errorf("promote: %w; running `xroad-node promote` again finishes it", err)
	}
	if err := n.State.SaveTopology(promoted.Topology("promote", time.Now())); err != nil {
		return err
	}
	n.Doc = promoted
	var names []string
	for _, m := range promoted.Secondaries {
		names = append(names, m.Name+" ("+m.Address+")")
	}
	n.say("promoted %s to primary of cluster %s; on each other node run `xroad-node repoint --primary %s`: %s",
		n.Doc.Node, n.Doc.Cluster, promoted.Primary.Address, strings.Join(names, ", "))
	return n.waitHealthy(ctx, w.Healthy)
}

// Repoint makes this secondary follow a promoted node: primary_conninfo,
// the pinned host key and the sync target change together.
func (n *Node) Repoint(ctx context.Context, primary string, w TopologyWaits) error {
	if n.isPrimary() {
		return refuse("repoint: %s is the primary of cluster %s; only a secondary follows a primary", n.Doc.Node, n.Doc.Cluster)
	}
	if primary == n.Doc.Primary.Address || primary == n.Doc.Primary.Name {
		n.say("repoint: %s already follows %s (%s)", n.Doc.Node, n.Doc.Primary.Name, n.Doc.Primary.Address)
		return nil
	}
	if err := n.lacking("repoint", profiles.FeatureWALReceiverView); err != nil {
		return err
	}
	if _, err := n.readUpgrade(); err == nil {
		return refuse("repoint: an upgrade is prepared on this node; run `xroad-node upgrade finish` first")
	}
	next, err := n.withRecordedMembers(ctx).Repointed(primary)
	if err != nil {
		return refuse("repoint: %v", err)
	}
	if err := n.converge(ctx, phase.Repoint, n.At(next, w.Follow, 0)); err != nil {
		return fmt.Errorf("repoint: %w", err)
	}
	if err := n.State.SaveTopology(next.Topology("repoint", time.Now())); err != nil {
		return err
	}
	n.Doc = next
	n.say("%s follows %s (%s): WAL streaming, host key pinned, sync target changed", n.Doc.Node, next.Primary.Name, next.Primary.Address)
	if exists(units.SyncDisabledFlag) {
		n.say("the configuration sync is paused; `xroad-node sync resume` restarts it")
		return nil
	}
	// A run the timer started before the repoint still talks to the old
	// primary (a dead one until its connection times out), and a start now
	// would only wait for it and share its failure: it is ended first.
	if err := n.Systemd.Stop(ctx, syncUnit); err != nil {
		return fmt.Errorf("repoint: %w", err)
	}
	return n.SyncNow(ctx)
}

// handoverState records a primary that has handed over.
type handoverState struct {
	Time time.Time `json:"time"`
	LSN  string    `json:"lsn"`
}

// Handover is a planned change of primary, run on the primary: configuration
// writes stop (serverconf read-only), every secondary catches up, and then
// no more WAL leaves this node, so any secondary can be promoted and the
// others repointed without their timelines diverging. The proxy keeps
// answering; the node is then replaced by one that rejoins as a secondary.
func (n *Node) Handover(ctx context.Context, w TopologyWaits) error {
	if !n.isPrimary() {
		return refuse("handover: %s is a secondary; run handover on the primary %s", n.Doc.Node, n.Doc.Primary.Name)
	}
	if err := n.lacking("handover", profiles.FeatureAlterSystem, profiles.FeatureLSNType); err != nil {
		return err
	}
	if b, err := os.ReadFile(n.State.HandoverFile()); err == nil {
		return refuse("handover: already handed over (%s); replace this node with one that rejoins as a secondary", strings.TrimSpace(string(b)))
	}
	port := n.Facts.PG.Serverconf.Port
	conn, err := pg.Local(ctx, port, "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, s := range []string{"ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()"} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("handover: %s: %w", s, err)
		}
	}
	n.say("serverconf is read-only: configuration changes now wait for the new primary")

	// New replication connections are refused before the last LSN is read.
	if err := n.converge(ctx, phase.Handover, n.At(n.Doc, w.Follow, 0)); err != nil {
		return fmt.Errorf("handover: %w", err)
	}
	var lsn string
	if err := conn.QueryRow(ctx, "SELECT "+n.Facts.PG.Functions.CurrentLSN+"()::text").Scan(&lsn); err != nil {
		return fmt.Errorf("handover: %w", err)
	}
	// A failed query is only remembered: a secondary reconnecting is not
	// the end of the wait.
	var queryErr error
	err = retry.Every(ctx, time.Second, w.Follow, func(ctx context.Context) (bool, error) {
		var behind, total int
		queryErr = conn.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FILTER (WHERE %s < $1::pg_lsn), count(*) FROM pg_stat_replication",
			n.Facts.PG.ReplicationLSNColumn), lsn).Scan(&behind, &total)
		return queryErr == nil && behind == 0 && total >= len(n.Doc.Secondaries), nil
	})
	if errors.Is(err, retry.ErrTimedOut) {
		return fmt.Errorf("handover: secondaries have not all replayed up to %s after %s (%v); see `xroad-node status`", lsn, w.Follow, queryErr)
	}
	if err != nil {
		return fmt.Errorf("handover: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_replication"); err != nil {
		return fmt.Errorf("handover: %w", err)
	}
	if err := n.State.WriteRecord(n.State.HandoverFile(), handoverState{Time: time.Now().UTC(), LSN: lsn}); err != nil {
		return err
	}
	n.say("every secondary replayed up to %s and no more WAL is sent; promote one with `xroad-node promote`, repoint the others", lsn)
	return nil
}
