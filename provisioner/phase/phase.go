// Package phase is the one context every role's phases and every day-2
// command work in, and the shape in which a role declares its plans.
package phase

import (
	"io"
	"log/slog"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/system"
)

// Context is the node a plan is made for and run on.
type Context struct {
	// Doc is the role document the plan brings the node to.
	Doc   *metadata.Document
	Facts *profiles.Facts
	// Systemd is nil when only planning.
	Systemd system.Units
	State   *nodestate.State
	// Log takes progress; Out the one-line outcomes of day-2 commands.
	Log *slog.Logger
	Out io.Writer
	// PrimaryWait bounds how long a secondary or standby waits for its
	// primary; FollowersWait how long the primary waits for its
	// secondaries or standbys to stream.
	PrimaryWait, FollowersWait time.Duration

	// Where the PostgreSQL matrix runs a cluster's nodes on one host, each
	// names its own certificate files (zero: the role's), the primary's
	// port (zero: this node's own, as on every real cluster) and the
	// replication passfile (empty: the one in postgres's home).
	TLSFiles     pg.TLSFiles
	PrimaryPort  int
	PassfilePath string
}

// At is c for the node placed by doc, with the waits of a day-2 command.
func (c *Context) At(doc *metadata.Document, primaryWait, followersWait time.Duration) *Context {
	a := *c
	a.Doc, a.PrimaryWait, a.FollowersWait = doc, primaryWait, followersWait
	return &a
}

// Plan is the phases a plan brings a node through, in order.
type Plan func(*Context) []engine.Phase

// Command names a day-2 command that converges a plan of the node's role.
type Command string

// The day-2 commands with plans: promote makes a follower the primary,
// repoint (security servers) and rejoin (database nodes) make a node follow
// a promoted primary, handover closes a primary to replication, reseed lets
// added secondaries in, forget lets gone ones out.
const (
	Promote  Command = "promote"
	Repoint  Command = "repoint"
	Rejoin   Command = "rejoin"
	Handover Command = "handover"
	Reseed   Command = "reseed"
	Forget   Command = "forget"
)

// Role is what a role's package declares, in one place: the roles of the
// metadata it serves, its provisioning plan and the plans its day-2
// commands converge (absent where a command does not apply to the role).
type Role struct {
	Serves    []metadata.Role
	Provision Plan
	Day2      map[Command]Plan
}
