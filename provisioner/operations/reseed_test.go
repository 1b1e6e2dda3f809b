package operations

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/phase"
)

// A secondary records the secondaries a reseed adds in its own state: the
// topology lands below the state's root, and the node's document is placed
// by it from then on.
func TestReseedSecondaryRecordsTopologyInItsState(t *testing.T) {
	doc := &metadata.Document{Role: metadata.RoleSecondary, Node: "ss2", Cluster: "c",
		Primary:     metadata.Primary{Name: "ss1", Address: "10.0.0.11"},
		Secondaries: []metadata.Member{{Name: "ss2", Address: "10.0.0.12"}}}
	added := []metadata.Member{{Name: "ss3", Address: "10.0.0.13"}}
	next := *doc
	next.Secondaries = append(append([]metadata.Member(nil), doc.Secondaries...), added...)
	st := nodestate.Open(t.TempDir())
	var out bytes.Buffer
	n := &Node{Context: &phase.Context{Doc: doc, State: st, Out: &out}}
	if err := n.Reseed(context.Background(), &next, added); err != nil {
		t.Fatal(err)
	}
	topo, err := st.Topology()
	if err != nil || topo == nil || topo.By != "reseed" || len(topo.Secondaries) != 2 || topo.Secondaries[1].Name != "ss3" {
		t.Fatalf("topology: %+v, %v", topo, err)
	}
	if !strings.Contains(out.String(), "ss2 knows ss3 (10.0.0.13)") {
		t.Errorf("said %q", out.String())
	}
}
