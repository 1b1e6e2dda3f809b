package status

import (
	"os"
	"time"

	"xroad-appliance/provisioner/metadata"
)

// Identity is one piece of the per-install material an image leaves out, and
// how this node came by it.
type Identity struct {
	Item string `json:"item"`
	// Origin is "generated here", "synced from the primary" or "replicated
	// from the primary".
	Origin string `json:"origin"`
	// Phase is the provisioning phase that brought it; Time when that phase
	// was done, null while it is pending.
	Phase string     `json:"phase"`
	Time  *time.Time `json:"time"`
}

const (
	generatedHere = "generated here"
	synced        = "synced from the primary"
	replicated    = "replicated from the primary"
)

// identityOf lists the node's identity items by the role it was provisioned
// in: a secondary promoted since still holds the primary's TLS identities.
func identityOf(c *Inputs) []Identity {
	doc := c.Doc
	if c.Provisioned != nil {
		doc = c.Provisioned
	}
	if doc == nil || c.Facts == nil {
		return nil
	}
	setup := c.Facts.XRoad.Setup
	var items []Identity
	add := func(item, origin, phase string) {
		items = append(items, Identity{Item: item, Origin: origin, Phase: phase})
	}
	certs := func(names []string, origin, phase string) {
		for _, name := range names {
			add("/etc/xroad/ssl/"+name+".{crt,key,p12}", origin, phase)
		}
	}
	switch doc.Role {
	case metadata.RolePrimary:
		certs(setup.ProxyCertificates, generatedHere, "certificates")
		add("serverconf database", generatedHere, "serverconf-database")
	case metadata.RoleSecondary:
		certs(setup.ProxyCertificates, synced, "initial-sync")
		add("serverconf database", replicated, "basebackup")
	case metadata.RoleCSNode:
		certs(setup.CentralServerCertificates, generatedHere, "package-setup")
	default:
		return nil
	}
	if !doc.Role.IsCentralServer() {
		for _, prefix := range []string{"messagelog", "op-monitor"} {
			if setup.DatabaseSetup[prefix] != "" {
				add(prefix+" database and its passwords", generatedHere, prefix+"-database")
			}
		}
	}
	if a := doc.AdminUser; a != nil {
		phase := "admin-user"
		if doc.Role == metadata.RoleCSNode {
			phase = "package-setup"
		}
		add("admin user "+a.Name, generatedHere, phase)
	}
	for i := range items {
		if st, err := os.Stat(c.State.PhaseStamp(items[i].Phase)); err == nil {
			t := st.ModTime().UTC().Truncate(time.Second)
			items[i].Time = &t
		}
	}
	return items
}
