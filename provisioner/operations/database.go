package operations

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"xroad-appliance/provisioner/centralserver"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/phase"
)

// database is the central-server phases' view of this node placed by doc.
func (n *Node) database(doc *metadata.Document, follow time.Duration) *phase.Context {
	return n.At(doc, follow, follow)
}

// promoteDatabase is Appendix A's manual fail-over on a database standby.
// The central server nodes need no change: their JDBC URL lists every
// database node and takes the one that accepts writes.
func (n *Node) promoteDatabase(ctx context.Context, force bool, w TopologyWaits) error {
	switch n.Doc.Role {
	case metadata.RoleCSDBPrimary:
		return refuse("promote: %s is already the database primary", n.Doc.Node)
	case metadata.RoleCSNode:
		return refuse("promote: %s is a central server node; promote a database standby (%s)", n.Doc.Node, hostNames(n.Doc.CentralServer.Database.Standbys))
	}
	promoted, err := n.Doc.DatabasePromoted()
	if err != nil {
		return refuse("promote: %v", err)
	}
	// Two writers would split the central servers' data: the old primary
	// must be gone, not merely cut off from this standby.
	if !force {
		old := n.Doc.CentralServer.Database.Primary
		if centralserver.PrimaryWritable(ctx, n.database(n.Doc, w.Follow)) == nil {
			return refuse("promote: the primary %s (%s) still accepts writes; stop it first, or pass --force if it is fenced", old.Name, old.Address)
		}
		if host, st, err := pg.WALReceiver(ctx, n.Facts.PG.Default.Port); err != nil {
			return fmt.Errorf("promote: %w", err)
		} else if st == "streaming" {
			return refuse("promote: this standby still streams WAL from the primary %s; stop it first, or pass --force if it is fenced", host)
		}
	}
	if err := n.converge(ctx, phase.Promote, n.database(promoted, w.Follow)); err != nil {
		return fmt.Errorf("promote: %w; running `xroad-node promote` again finishes it", err)
	}
	if err := n.State.SaveTopology(promoted.Topology("promote", time.Now())); err != nil {
		return err
	}
	n.Doc = promoted
	n.say("promoted %s to the database primary; the central servers find it through their JDBC URL. "+
		"On each other database node run `xroad-node rejoin --primary %s`: %s. The old primary refuses to start as a writer until it has.",
		n.Doc.Node, n.Doc.Node, hostNames(promoted.CentralServer.Database.Standbys))
	return nil
}

// Rejoin rebuilds a database node as a standby of a promoted primary: the
// fenced old primary, or another standby. It is refused unless that
// primary answers and accepts writes.
func (n *Node) Rejoin(ctx context.Context, primary string, w TopologyWaits) error {
	if n.Doc.Role != metadata.RoleCSDBPrimary && n.Doc.Role != metadata.RoleCSDBStandby {
		return refuse("rejoin: %s is not a central-server database node (role %s); a security-server secondary follows a new primary with `xroad-node repoint`", n.Doc.Node, n.Doc.Role)
	}
	next, err := n.Doc.DatabaseRejoined(primary)
	if err != nil {
		return refuse("rejoin: %v", err)
	}
	db := n.database(next, w.Follow)
	if err := centralserver.PrimaryWritable(ctx, db); err != nil {
		return refuse("rejoin: %v", err)
	}
	if err := n.converge(ctx, phase.Rejoin, db); err != nil {
		return fmt.Errorf("rejoin: %w; running `xroad-node rejoin` again finishes it", err)
	}
	if err := n.State.SaveTopology(next.Topology("rejoin", time.Now())); err != nil {
		return err
	}
	if err := os.Remove(n.State.FenceFile()); err == nil {
		n.say("the fence is lifted: this node starts as a standby")
	}
	n.Doc = next
	p := next.CentralServer.Database.Primary
	n.say("%s is a standby of %s (%s), streaming on slot %s", n.Doc.Node, p.Name, p.Address, metadata.SlotName(n.Doc.Node))
	if kept, _ := filepath.Glob(n.Facts.PG.Default.DataDir + ".replaced-*"); len(kept) > 0 {
		n.say("replaced data directories are kept, for inspection or removal by hand: %s", strings.Join(kept, ", "))
	}
	return nil
}

func hostNames(hs []metadata.Host) string {
	var s []string
	for _, h := range hs {
		s = append(s, h.Name+" ("+h.Address+")")
	}
	return strings.Join(s, ", ")
}
