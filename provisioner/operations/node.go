// Package operations are the day-2 commands on a provisioned security-server
// node (External Load Balancer guide, chapters 6 and 7): pausing and resuming
// the configuration sync and WAL replay, the health check's maintenance mode,
// and the steps of an online rolling upgrade. Each says what it did in one
// line, and refuses, changing nothing, when the node is in the wrong state.
package operations

import (
	"context"
	"fmt"
	"os"

	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/roles"
)

// DefaultAdminPort is the proxy admin port of guide 3.4.
const DefaultAdminPort = 5566

// Node is a provisioned node in the phases' context, which says where its
// commands report.
type Node struct {
	*phase.Context
	// AdminPort is the proxy admin port (maintenance mode).
	AdminPort int
}

// converge brings the node, placed by c, through the plan its role
// declares for cmd.
func (n *Node) converge(ctx context.Context, cmd phase.Command, c *phase.Context) error {
	r, err := roles.Of(n.Doc.Role)
	if err != nil {
		return err
	}
	plan, ok := r.Day2[cmd]
	if !ok {
		return refuse("%s: not a command of role %s", cmd, n.Doc.Role)
	}
	return engine.Converge(ctx, plan(c), n.Log)
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
