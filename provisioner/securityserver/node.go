// Package securityserver plans the phases that turn a booted appliance into a
// security-server cluster primary or secondary, following the External Load
// Balancer guide chapters 3 to 6.
package securityserver

import (
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/phase"
)

// Paths the guide names.
const (
	XRoadDir     = "/etc/xroad"
	TLSDir       = "/etc/xroad/postgresql"
	DBProperties = "/etc/xroad/db.properties"
	NodeINI      = "/etc/xroad/conf.d/node.ini"
	LocalINI     = "/etc/xroad/conf.d/local.ini"
)

// TLS are the node's certificate files in TLSDir (guide 4.1).
var TLS = pg.TLSIn(TLSDir)

// Role declares the security-server roles' plans: provisioning and day-2.
var Role = phase.Role{
	Serves:    []metadata.Role{metadata.RolePrimary, metadata.RoleSecondary},
	Provision: Plan,
	Day2: map[phase.Command]phase.Plan{
		phase.Promote: PromotePlan, phase.Repoint: RepointPlan, phase.Handover: HandoverPlan, phase.Reseed: MembersPlan, phase.Forget: ForgetPlan,
	},
}

// Node is the context as the security-server phases see it.
type Node struct{ *phase.Context }

func (n *Node) tls() pg.TLSFiles {
	if n.TLSFiles == (pg.TLSFiles{}) {
		return TLS
	}
	return n.TLSFiles
}

func (n *Node) primaryPort() int {
	if n.PrimaryPort == 0 {
		return n.Facts.PG.Serverconf.Port
	}
	return n.PrimaryPort
}

// Plan returns the phases for the node's role, in order.
func Plan(c *phase.Context) []engine.Phase {
	n := &Node{c}
	if n.Doc.Role == metadata.RolePrimary {
		// The TLS identities come first: a secondary syncs them once it
		// can reach the primary's database. Every secondary waits for the
		// roles, then for the sync user, the host key it pins and
		// local.ini, so nothing that they do not need comes before those:
		// the default instance (which the boot starts meanwhile) and the
		// node's own databases only after.
		phases := []engine.Phase{
			n.stopServices(), n.certificates(), n.tlsFiles(), n.serverconfInstance(), n.localAccess(), n.primaryReplicationSettings(),
			n.startServerconf(), n.roles(), n.syncUser(), n.hostKey(), n.localINI(), n.membersRecord(),
			n.defaultInstance(), n.dbProperties(), n.serverconfDatabase(),
		}
		phases = append(phases, n.localDatabases()...)
		phases = append(phases, n.nodeINI("master"))
		phases = append(phases, n.adminUser()...)
		if n.Doc.Join != nil {
			phases = append(phases, n.joinService())
		}
		return append(phases, n.verifyPrimary(), n.startServices())
	}
	phases := []engine.Phase{n.stopServices(), n.tlsFiles(), n.serverconfInstance(), n.sshClient()}
	if n.Doc.SSH.HostKey != "" {
		// Pinned by the others from the kit's list once this node is promoted.
		phases = append(phases, n.hostKey())
	}
	// What needs nothing of the primary is done while the primary is still
	// getting ready, not after its base backup: the node's own databases,
	// node.ini, the UI groups and the admin user (which the initial sync
	// does not touch: node.ini is excluded, the rest is outside /etc/xroad).
	// The default instance, which the boot starts meanwhile, is waited for
	// only when its databases are made.
	phases = append(phases, n.defaultInstance(), n.dbProperties())
	phases = append(phases, n.localDatabases()...)
	phases = append(phases, n.nodeINI("slave"), n.uiGroups())
	phases = append(phases, n.adminUser()...)
	phases = append(phases,
		n.waitPrimary(), n.baseBackup(), n.localAccess(), n.standby(), n.startServerconf(),
		n.initialSync(), n.syncTimer())
	return append(phases, n.verifySecondary(), n.startServices())
}

func (n *Node) pgConf() string { return n.Facts.PG.Serverconf.ConfigDir + "/postgresql.conf" }
func (n *Node) pgHBA() string  { return n.Facts.PG.Serverconf.ConfigDir + "/pg_hba.conf" }
func (n *Node) pgIdent() string {
	return n.Facts.PG.Serverconf.ConfigDir + "/pg_ident.conf"
}
func (n *Node) serverconfUnit() string { return n.Facts.PG.Serverconf.Unit + ".service" }
