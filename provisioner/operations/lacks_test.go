package operations

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/phase"
)

// On PostgreSQL 9.2 promote and repoint (pg_stat_wal_receiver, 9.6) and
// handover (ALTER SYSTEM and pg_lsn, 9.4) are refused with the reason
// before anything is touched: the node has no systemd and no database
// here, so any step past the refusal would fail differently.
func TestTopologyCommandsRefusedWherePostgreSQLLacksThem(t *testing.T) {
	f, err := profiles.Resolve("rhel-7", "9.2")
	if err != nil {
		t.Fatal(err)
	}
	secondary := &metadata.Document{Role: metadata.RoleSecondary, Node: "ss2", Cluster: "c",
		Primary: metadata.Primary{Name: "ss1", Address: "10.0.0.11"}}
	primary := &metadata.Document{Role: metadata.RolePrimary, Node: "ss1", Cluster: "c"}
	w := TopologyWaits{Follow: time.Second, Healthy: time.Second}
	ctx := context.Background()
	for _, c := range []struct {
		name, why string
		doc       *metadata.Document
		run       func(*Node) error
	}{
		{"promote", "pg_stat_wal_receiver", secondary, func(n *Node) error { return n.Promote(ctx, false, w) }},
		{"repoint", "pg_stat_wal_receiver", secondary, func(n *Node) error { return n.Repoint(ctx, "10.0.0.13", w) }},
		{"handover", "ALTER SYSTEM", primary, func(n *Node) error { return n.Handover(ctx, w) }},
	} {
		var out bytes.Buffer
		n := &Node{Context: &phase.Context{Doc: c.doc, Facts: f, State: nodestate.Open(t.TempDir()), Out: &out}}
		err := c.run(n)
		var r *Refusal
		if !errors.As(err, &r) || !strings.Contains(r.Reason, c.why) || !strings.Contains(r.Reason, "9.2") {
			t.Errorf("%s on 9.2: %v, want a refusal naming %s", c.name, err, c.why)
		}
	}
	// The same commands get past the check on 10.
	f10, _ := profiles.Resolve("rhel-8", "10")
	n := &Node{Context: &phase.Context{Doc: primary, Facts: f10, State: nodestate.Open(t.TempDir()), Out: &bytes.Buffer{}}}
	if err := n.lacking("handover", profiles.FeatureAlterSystem, profiles.FeatureLSNType); err != nil {
		t.Errorf("rhel-8 pg10: %v", err)
	}
}
