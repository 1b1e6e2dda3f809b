package status

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"xroad-appliance/provisioner/centralserver"
	"xroad-appliance/provisioner/metadata"
)

// CentralServer is a central-server HA node's view: on a database node its
// instance and replication, on a central server node the shared database as
// the node reaches it and the central server's own HA cluster status.
type CentralServer struct {
	// Database nodes.
	Unit       string `json:"unit,omitempty"`
	UnitState  string `json:"unitState,omitempty"`
	InRecovery *bool  `json:"inRecovery,omitempty"`
	// Standbys are pg_stat_replication's rows on the primary, with replay lag.
	Standbys    []Standby `json:"standbys,omitempty"`
	Missing     []string  `json:"missing,omitempty"`
	WalReceiver string    `json:"walReceiver,omitempty"`
	// A standby's replay progress: received minus replayed WAL, and the age
	// of the last replayed transaction.
	ReceiveLSN           string     `json:"receiveLsn,omitempty"`
	ReplayLSN            string     `json:"replayLsn,omitempty"`
	LagBytes             *int64     `json:"lagBytes,omitempty"`
	LastReplay           *time.Time `json:"lastReplay,omitempty"`
	LastReplayAgeSeconds *float64   `json:"lastReplayAgeSeconds,omitempty"`
	// Central server nodes.
	HANodeName string `json:"haNodeName,omitempty"`
	// Writable is the database server that accepted a read-write session.
	Writable  string     `json:"writable,omitempty"`
	HACluster *HACluster `json:"haCluster,omitempty"`
	// Fenced is a database node's fence: another node was promoted while it
	// was away, and its PostgreSQL does not start as a primary.
	Fenced *centralserver.Fenced `json:"fenced,omitempty"`
	Error  string                `json:"error,omitempty"`
}

// probeCentralServer fills the central-server section for the node's role.
func probeCentralServer(ctx context.Context, c *Inputs) (*CentralServer, error) {
	cs := &CentralServer{}
	if c.Doc.Role == metadata.RoleCSNode {
		me, _ := c.Doc.CSNode()
		cs.HANodeName = me.HANodeName
		host, err := writableDatabase(ctx, c.Doc)
		cs.Writable = host
		return cs, err
	}
	if c.Facts == nil {
		return cs, fmt.Errorf("instance unknown without the platform facts: %v", c.FactsErr)
	}
	fence, err := centralserver.ReadFence(c.State)
	if err != nil {
		return cs, err
	}
	cs.Fenced = fence
	inst := c.Facts.PG.Default
	cs.Unit = inst.Unit + ".service"
	if c.Systemd != nil {
		cs.UnitState, _ = c.Systemd.ActiveState(ctx, cs.Unit)
	}
	conn, err := connect(ctx, c.SocketDir, inst.Port)
	if err != nil {
		return cs, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var inRecovery bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
		return cs, err
	}
	cs.InRecovery = &inRecovery
	if inRecovery {
		return cs, cs.readRecovery(ctx, conn, c)
	}
	return cs, cs.readStandbys(ctx, conn, c)
}

// readRecovery reads a standby's WAL receiver and replay progress the way a
// security-server secondary reports them.
func (cs *CentralServer) readRecovery(ctx context.Context, conn *pgx.Conn, c *Inputs) error {
	s := secondaryState(ctx, conn, c)
	cs.WalReceiver, cs.ReceiveLSN, cs.ReplayLSN, cs.LagBytes, cs.LastReplay =
		s.WalReceiver, s.ReceiveLSN, s.ReplayLSN, s.LagBytes, s.LastReplay
	if s.LastReplay != nil {
		age := math.Round(c.Now().Sub(*s.LastReplay).Seconds())
		cs.LastReplayAgeSeconds = &age
	}
	if s.Error != "" {
		return errors.New(s.Error)
	}
	return nil
}

// readStandbys reads the primary's replication connections and names the
// standbys of the role document that do not stream.
func (cs *CentralServer) readStandbys(ctx context.Context, conn *pgx.Conn, c *Inputs) error {
	standbys, err := replicationRows(ctx, conn, c, func(name string) bool { return hasStandby(c.Doc, name) })
	if err != nil {
		return err
	}
	cs.Standbys = standbys
	streaming := map[string]bool{}
	for _, s := range standbys {
		streaming[s.Name] = s.State == "streaming"
	}
	for _, s := range c.Doc.CentralServer.Database.Standbys {
		if !streaming[s.Name] && s.Name != c.Doc.Node {
			cs.Missing = append(cs.Missing, s.Name)
		}
	}
	return nil
}

func hasStandby(d *metadata.Document, name string) bool {
	for _, s := range d.CentralServer.Database.Standbys {
		if s.Name == name {
			return true
		}
	}
	return false
}

// writableDatabase is centralserver.WritableDatabase with every secret of
// the document scrubbed from its error.
func writableDatabase(ctx context.Context, d *metadata.Document) (string, error) {
	host, err := centralserver.WritableDatabase(ctx, d)
	if err != nil {
		return "", errors.New(scrub(err.Error(), d))
	}
	return host, nil
}

// centralServerProblems judges the central-server section. The HA cluster
// status is judged even when the database is out of reach: the central
// server answers it from its own connection.
func centralServerProblems(role metadata.Role, cs *CentralServer) []string {
	if cs == nil {
		return nil
	}
	var p []string
	if cs.Fenced != nil {
		p = append(p, cs.Fenced.Error())
	}
	if cs.Error != "" {
		p = append(p, "central server HA: "+cs.Error)
	} else {
		p = append(p, databaseNodeProblems(role, cs)...)
	}
	return append(p, haClusterProblems(cs.HACluster, cs.HANodeName)...)
}

func databaseNodeProblems(role metadata.Role, cs *CentralServer) []string {
	var p []string
	switch role {
	case metadata.RoleCSDBPrimary:
		if cs.InRecovery != nil && *cs.InRecovery {
			p = append(p, "the database primary is in recovery")
		}
		for _, m := range cs.Missing {
			p = append(p, "standby "+m+" is not streaming")
		}
	case metadata.RoleCSDBStandby:
		if cs.InRecovery != nil && !*cs.InRecovery {
			p = append(p, "the standby is not in recovery (promoted?)")
		} else if cs.WalReceiver != "streaming" {
			p = append(p, fmt.Sprintf("the standby's WAL receiver is %q, not streaming", cs.WalReceiver))
		}
	}
	return p
}
