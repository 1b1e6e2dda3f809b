// Package plan picks the phases for a node's role: a security-server
// cluster member or a central-server HA node.
package plan

import (
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/centralserver"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/securityserver"
	"xroad-appliance/provisioner/system"
)

// Node is a node to provision.
type Node struct {
	Doc     *metadata.Document
	Facts   *profiles.Facts
	Systemd *system.Systemd // nil when only planning
	State   *nodestate.State
	// PrimaryWait bounds the wait for the (database) primary, PeersWait the
	// primary's wait for its secondaries or standbys to stream.
	PrimaryWait, PeersWait time.Duration
}

// Phases are the node's phases in order.
func Phases(n Node) []engine.Phase {
	if n.Doc.Role.IsCentralServer() {
		return centralserver.Plan(&centralserver.Node{Doc: n.Doc, Facts: n.Facts, Systemd: n.Systemd, State: n.State,
			PrimaryWait: n.PrimaryWait, StandbysWait: n.PeersWait})
	}
	return securityserver.Plan(&securityserver.Node{Doc: n.Doc, Facts: n.Facts, Systemd: n.Systemd, State: n.State,
		PrimaryWait: n.PrimaryWait, SecondariesWait: n.PeersWait})
}
