package operations

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"xroad-appliance/provisioner/join"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/phase"
)

// Admit lets in a secondary the join service has authenticated (token,
// MAC, fresh nonce) and whose certificate it has signed: the same members
// phases as a reseed (replication role, authorized sync key, WAL
// retention, the replicated record), then the member is recorded in the
// primary's topology and gets its role document. A node asking again with
// the keys it was admitted with (its first answer was lost) gets its
// document again; any other request for a name the cluster has is refused.
// The join service calls it for one node at a time.
func (n *Node) Admit(ctx context.Context, a join.Admission) ([]byte, error) {
	// The document is read anew: forget, reseed or a promote may have
	// changed it since the service started.
	placed, err := n.State.Document()
	if err != nil {
		return nil, err
	}
	doc := placed.Effective
	switch {
	case doc.Role != metadata.RolePrimary:
		return nil, &join.Refusal{Status: http.StatusServiceUnavailable, Reason: "this node is no longer the cluster's primary"}
	case exists(n.State.HandoverFile()):
		return nil, &join.Refusal{Status: http.StatusServiceUnavailable, Reason: "this primary has handed over; join the promoted primary"}
	}
	m := metadata.Member{Name: a.Name, Address: a.Address, SSHPublicKey: a.SSHPublicKey, HostKey: a.HostKey}
	if listed, ok := doc.Member(a.Name); ok {
		if sameKey(listed.SSHPublicKey, a.SSHPublicKey) && sameKey(listed.HostKey, a.HostKey) {
			n.Log.Info("admitted again with the keys it joined with", "node", a.Name)
			return grantOf(doc, listed, string(a.CertPEM))
		}
		return nil, &join.Refusal{Status: http.StatusConflict, Reason: fmt.Sprintf("%s: %v", a.Name, metadata.ErrNameTaken)}
	}
	next, err := doc.Admitted(m)
	if err != nil { // the name is taken or the cluster is full
		return nil, &join.Refusal{Status: http.StatusConflict, Reason: err.Error()}
	}
	if err := n.converge(ctx, phase.Reseed, n.At(next, 0, 0)); err != nil {
		return nil, fmt.Errorf("admitting %s: %w", a.Name, err)
	}
	if err := n.State.SaveTopology(next.Topology("join", time.Now())); err != nil {
		return nil, err
	}
	n.Log.Info("admitted", "node", a.Name, "address", a.Address, "secondaries", len(next.Secondaries))
	return grantOf(next, m, string(a.CertPEM))
}

func grantOf(doc *metadata.Document, m metadata.Member, certPEM string) ([]byte, error) {
	return yaml.Marshal(doc.Grant(m, certPEM))
}

func sameKey(a, b string) bool { return strings.TrimSpace(a) == strings.TrimSpace(b) }
