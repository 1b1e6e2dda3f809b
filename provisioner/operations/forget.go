package operations

import (
	"context"
	"fmt"
	"time"

	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/securityserver"
)

// Forget lets a secondary that is gone for good (its instance terminated)
// out of the primary: its replication role, its authorized key for the
// configuration sync and its share of the WAL retention go, and the
// replicated member record drops it, so that no later promote lets it back
// in. A secondary still streaming is refused unless force says the operator
// knows it is on its way out.
func (n *Node) Forget(ctx context.Context, name string, force bool) error {
	if !n.isPrimary() {
		return refuse("forget: %s is a secondary; run forget on the primary %s", n.Doc.Node, n.Doc.Primary.Name)
	}
	if exists(n.State.HandoverFile()) {
		return refuse("forget: %s has handed over; run forget on the promoted primary", n.Doc.Node)
	}
	next, err := n.Doc.Forgotten(name)
	if err != nil {
		return refuse("forget: %v", err)
	}
	streaming, err := pg.Streaming(ctx, n.Facts.PG.Serverconf.Port)
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	if streaming[name] && !force {
		return refuse("forget: %s still streams WAL from this node; stop it first, or pass --force to cut it off", name)
	}
	if err := n.converge(ctx, phase.Forget, n.At(next, 0, 0)); err != nil {
		return fmt.Errorf("forget: %w; running `xroad-node forget %s` again finishes it", err, name)
	}
	if err := n.State.SaveTopology(next.Topology("forget", time.Now())); err != nil {
		return err
	}
	n.Doc = next
	n.say("%s forgot %s: replication role dropped, sync key removed, WAL retention for %d secondaries", n.Doc.Node, name, len(next.Secondaries))
	return nil
}

// withRecordedMembers is the node's document knowing every secondary the
// primary recorded, where the record can be read.
func (n *Node) withRecordedMembers(ctx context.Context) *metadata.Document {
	recorded, err := securityserver.ReplicatedMembers(ctx, n.Facts.PG.Serverconf.Port)
	if err != nil {
		n.Log.Warn("the replicated member record is not readable; using the role document's list", "err", err)
		return n.Doc
	}
	return n.Doc.WithMembers(recorded)
}
