package securityserver

import (
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/xroadsetup"
)

// certificates makes the primary's TLS identities for the cluster's public
// name and its nodes; secondaries receive them with /etc/xroad (guide 5).
func (n *Node) certificates() engine.Phase {
	var alt []string
	for _, m := range append([]metadata.Member{{Name: n.Doc.Primary.Name, Address: n.Doc.Primary.Address}}, n.Doc.Secondaries...) {
		alt = append(alt, m.Name, m.Address)
	}
	fb := n.Facts.XRoad.Setup
	return xroadsetup.Certificates(fb, fb.ProxyCertificates, n.Doc.ClusterName(), alt)
}

// localDatabases are the node's own message log and operational monitoring
// databases, on the default instance: never replicated, never synced.
func (n *Node) localDatabases() []engine.Phase {
	fb := n.Facts.XRoad.Setup
	var phases []engine.Phase
	for _, prefix := range []string{"messagelog", "op-monitor"} {
		if fb.DatabaseSetup[prefix] != "" {
			phases = append(phases, xroadsetup.Database(fb, prefix, n.Facts.PG.Default.Port))
		}
	}
	return phases
}

// defaultInstance is the instance the node's own message log and
// op-monitor databases live on.
func (n *Node) defaultInstance() engine.Phase {
	d := n.Facts.PG.Default
	return pg.DefaultInstance(n.Systemd, d.Unit, d.Port, d.DataDir, d.Init)
}

// adminUser gives the node the X-Road admin user; the package's rule picks
// the groups from node.ini, so it runs after node-ini. The databases are
// set up by their own phases, hence XROAD_IGNORE_DATABASE_SETUP here.
func (n *Node) adminUser() []engine.Phase {
	if n.Doc.AdminUser == nil {
		return nil
	}
	x := n.Facts.XRoad
	groups := x.UIGroupsKept
	if n.Doc.Role == metadata.RolePrimary {
		groups = append(append([]string(nil), x.UIGroupsKept...), x.UIGroupsRemovedOnSecondary...)
	}
	return []engine.Phase{xroadsetup.AdminUser(n.Doc.AdminUser, x.Setup.AdminUser, x.Setup.AdminUser.SecurityServerPackage,
		groups, []string{"XROAD_IGNORE_DATABASE_SETUP=1"})}
}
