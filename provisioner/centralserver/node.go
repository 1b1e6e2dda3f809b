// Package centralserver plans the phases of the central-server HA roles (the
// Central Server HA guide and its Appendix A): the shared database's primary
// and its streaming standbys, and the central server nodes that use it.
package centralserver

import (
	"fmt"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/phase"
)

// TLSDir holds a database node's certificate material. A database node runs
// no X-Road package, so it has no /etc/xroad.
const TLSDir = "/etc/xroad-node/postgresql"

// TLS are a database node's certificate files.
var TLS = pg.TLSIn(TLSDir)

// Role declares the central-server roles' plans: provisioning and day-2.
var Role = phase.Role{
	Serves:    []metadata.Role{metadata.RoleCSDBPrimary, metadata.RoleCSDBStandby, metadata.RoleCSNode},
	Provision: Plan,
	Day2:      map[phase.Command]phase.Plan{phase.Promote: PromotePlan, phase.Rejoin: RejoinPlan},
}

// Node is the context as the central-server phases see it.
type Node struct{ *phase.Context }

func (n *Node) tls() pg.TLSFiles {
	if n.TLSFiles == (pg.TLSFiles{}) {
		return TLS
	}
	return n.TLSFiles
}

// Plan returns the phases for the node's central-server role, in order.
func Plan(c *phase.Context) []engine.Phase {
	n := &Node{c}
	switch n.Doc.Role {
	case metadata.RoleCSDBPrimary:
		return []engine.Phase{
			// The slots come before the replication user: a standby that can
			// log in finds its slot there.
			n.tlsFiles(), n.defaultInstance(), n.fence(), n.access(), n.settings(nil), n.restart(), n.slots(), n.roles(), n.database(), n.verifyStandbys(),
		}
	case metadata.RoleCSDBStandby:
		return []engine.Phase{
			n.tlsFiles(), n.fence(), n.passfile(), n.waitPrimary(), n.baseBackup(), n.access(), n.settings(n.standbyLines()),
			n.restart(), n.verifyStandby(),
		}
	default:
		return []engine.Phase{n.haNodeName(), n.dbProperties(), n.libpqEnv(), n.adminProperties(), n.waitDatabase(), n.packageSetup(), n.startServices()}
	}
}

// defaultInstance gives the database primary its cluster where the
// packages did not make one (RHEL).
func (n *Node) defaultInstance() engine.Phase {
	d := n.instance()
	return pg.DefaultInstance(n.Systemd, d.Unit, d.Port, d.DataDir, d.Init)
}

func (n *Node) db() metadata.CSDatabase { return n.Doc.CentralServer.Database }

// instance is the database node's PostgreSQL instance: the profile's default one.
func (n *Node) instance() profiles.Instance { return n.Facts.PG.Default }
func (n *Node) unit() string                { return n.instance().Unit + ".service" }
func (n *Node) pgConf() string              { return n.instance().ConfigDir + "/postgresql.conf" }
func (n *Node) pgHBA() string               { return n.instance().ConfigDir + "/pg_hba.conf" }
func (n *Node) pgIdent() string             { return n.instance().ConfigDir + "/pg_ident.conf" }

// checkPlatform refuses what Appendix A cannot run on: a profile that
// cannot have the database package set, PostgreSQL below 10, or a document
// whose database port is not the instance's.
func (n *Node) checkPlatform() error {
	if reason := n.Facts.XRoad.Unavailable["cs-database"]; reason != "" {
		return fmt.Errorf("profile %s cannot run the central servers' database: %s", n.Facts.Name, reason)
	}
	if m := n.Facts.PG.Major; m < 10 {
		return fmt.Errorf("the shared database needs PostgreSQL 10 or later (Appendix A); this image has %d", m)
	}
	if p := n.db().Port; p != n.instance().Port {
		return fmt.Errorf("centralServer.database.port is %d, but this image's PostgreSQL instance listens on %d", p, n.instance().Port)
	}
	return nil
}
