package operations

import (
	"context"
	"fmt"
	"strings"
	"time"

	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/phase"
)

// Reseed takes the secondaries added to the cluster from this node's renewed
// seed (next and added from metadata.Document.Reseeded). The primary gives
// each its replication role and its authorized key for the configuration
// sync and grows its WAL retention; a secondary records them, so that a
// later promote lets them follow it. Every node must be reseeded before the
// new secondaries boot: the primary to let them in, the others so that any
// of them can take over.
func (n *Node) Reseed(ctx context.Context, next *metadata.Document, added []metadata.Member) error {
	if len(added) == 0 {
		n.say("reseed: the seed adds no secondary to the %d %s lists; nothing changed", len(n.Doc.Secondaries), n.Doc.Node)
		return nil
	}
	if exists(n.State.HandoverFile()) {
		return refuse("reseed: %s has handed over; reseed the promoted primary and the other secondaries instead", n.Doc.Node)
	}
	if n.isPrimary() {
		if err := n.converge(ctx, phase.Reseed, n.At(next, 0, 0)); err != nil {
			return fmt.Errorf("reseed: %w; running `xroad-node reseed` again finishes it", err)
		}
	}
	if err := n.State.SaveTopology(next.Topology("reseed", time.Now())); err != nil {
		return err
	}
	n.Doc = next
	var names []string
	for _, m := range added {
		names = append(names, m.Name+" ("+m.Address+")")
	}
	if n.isPrimary() {
		n.say("%s lets in %s: replication role, authorized sync key, WAL retention for %d secondaries; boot them from their seeds",
			n.Doc.Node, strings.Join(names, ", "), len(next.Secondaries))
		return nil
	}
	n.say("%s knows %s: a promote of this node lets them follow it", n.Doc.Node, strings.Join(names, ", "))
	return nil
}
