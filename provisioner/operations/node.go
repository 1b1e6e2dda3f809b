// Package operations are the day-2 commands on a provisioned security-server
// node (External Load Balancer guide, chapters 6 and 7): pausing and resuming
// the configuration sync and WAL replay, the health check's maintenance mode,
// and the steps of an online rolling upgrade. Each says what it did in one
// line, and refuses, changing nothing, when the node is in the wrong state.
package operations

import (
	"fmt"
	"io"
	"os"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/system"
)

// DefaultAdminPort is the proxy admin port of guide 3.4.
const DefaultAdminPort = 5566

// Node is a provisioned node and where its commands report.
type Node struct {
	Doc     *metadata.Document
	Facts   *profiles.Facts
	Systemd system.Units
	State   *nodestate.State
	// AdminPort is the proxy admin port (maintenance mode).
	AdminPort int
	Out       io.Writer
}

// Refusal is a command run in the wrong state; nothing was changed.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

// Refused makes the command line exit with its "refused" code.
func (r *Refusal) Refused() bool { return true }

func refuse(format string, args ...any) error { return &Refusal{Reason: fmt.Sprintf(format, args...)} }

func (n *Node) say(format string, args ...any) { fmt.Fprintf(n.Out, format+"\n", args...) }

func (n *Node) isPrimary() bool { return n.Doc.Role == metadata.RolePrimary }

// secondaryOnly refuses cmd on the primary, which neither replays WAL nor
// receives the configuration sync.
func (n *Node) secondaryOnly(cmd string) error {
	if n.isPrimary() {
		return refuse("%s: %s is the primary of cluster %s; only secondaries replay WAL and receive the configuration sync",
			cmd, n.Doc.Node, n.Doc.Cluster)
	}
	return nil
}

// Provisioned refuses day-2 commands on a node whose provisioning has not
// finished: its state is the provisioner's to change.
func Provisioned(st *nodestate.State) error {
	if !st.Provisioned() {
		return refuse("this node is not provisioned yet (no %s); see `xroad-node status`", st.ProvisionedStamp())
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// lacking refuses cmd, before it changes anything, when the node's
// PostgreSQL lacks a server feature cmd uses (the profile's pg.lacks).
func (n *Node) lacking(cmd string, features ...string) error {
	for _, f := range features {
		if why, ok := n.Facts.PG.Lacks[f]; ok {
			return refuse("%s: not possible on PostgreSQL %s: %s; nothing was changed", cmd, n.Facts.PostgreSQLVersion, why)
		}
	}
	return nil
}
