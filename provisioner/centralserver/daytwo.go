package centralserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"xroad-appliance/provisioner/confedit"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/steps"
	"xroad-appliance/provisioner/system"
)

// PromotePlan ends a standby's recovery (Appendix A's manual fail-over) and
// makes it the primary n.Doc describes (metadata.Document.DatabasePromoted):
// the standby settings leave postgresql.conf, and every other database
// node, the old primary too, gets a slot to rejoin through. Each step
// checks first, so an interrupted promotion is finished by running it again.
func PromotePlan(c *phase.Context) []engine.Phase {
	n := &Node{c}
	return []engine.Phase{n.fence(), n.promote(), n.settings(nil), n.restart(), n.slots()}
}

// RejoinPlan rebuilds a database node as a standby of the primary n.Doc
// names (metadata.Document.DatabaseRejoined). A node on another timeline,
// a fenced old primary, is cloned afresh, its data directory moved aside;
// a standby that can follow the new timeline keeps its data.
func RejoinPlan(c *phase.Context) []engine.Phase {
	n := &Node{c}
	return []engine.Phase{
		n.tlsFiles(), n.fence(), n.passfile(), n.waitPrimary(), n.slot(), n.baseBackup(), n.access(),
		n.settings(n.standbyLines()), n.follow(),
	}
}

func (n *Node) inRecovery(ctx context.Context) (bool, error) {
	conn, err := pg.Local(ctx, n.instance().Port, "postgres")
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	return pg.InRecovery(ctx, conn)
}

// promote runs Appendix A's `pg_ctl promote` as postgres.
func (n *Node) promote() engine.Phase {
	cmd := []string{n.Facts.PG.BinDir + "/pg_ctl", "promote", "-D", n.instance().DataDir}
	notInRecovery := func(ctx context.Context) (bool, error) {
		in, err := n.inRecovery(ctx)
		return err == nil && !in, err
	}
	return engine.Phase{
		Name: "promote", Summary: "the standby promoted out of recovery onto a new timeline",
		Actions: []string{strings.Join(cmd, " ") + " (as postgres)"},
		Check:   notInRecovery,
		Apply: func(ctx context.Context) error {
			if _, err := system.Run(ctx, system.Cmd{Args: cmd, User: "postgres"}); err != nil {
				return err
			}
			return steps.WaitFor(ctx, time.Minute, "the end of recovery", notInRecovery)
		},
	}
}

// ownerSession opens a session on the central server's database at h as its
// owner, the primary's certificate checked against the CA.
func (n *Node) ownerSession(ctx context.Context, h metadata.Host) (*pgx.Conn, error) {
	db := n.db()
	cfg, err := pgx.ParseConfig(confedit.Conninfo(map[string]string{
		"host": h.Address, "port": fmt.Sprint(db.Port), "dbname": db.Name, "user": db.Owner,
		"sslmode": "verify-ca", "sslrootcert": n.tls().CA, "connect_timeout": "5", "application_name": n.Doc.Node + " xroad-node",
	}, "host", "port", "dbname", "user", "sslmode", "sslrootcert", "connect_timeout", "application_name"))
	if err != nil {
		return nil, err
	}
	cfg.Password = db.Password
	return pgx.ConnectConfig(ctx, cfg)
}

// PrimaryWritable says why the primary c.Doc names cannot be followed: it
// does not answer, or it is itself a standby.
func PrimaryWritable(ctx context.Context, c *phase.Context) error {
	n := &Node{c}
	p := n.db().Primary
	conn, err := n.ownerSession(ctx, p)
	if err != nil {
		return fmt.Errorf("%s (%s) does not answer: %w", p.Name, p.Address, err)
	}
	defer conn.Close(ctx)
	if in, err := pg.InRecovery(ctx, conn); err != nil {
		return err
	} else if in {
		return fmt.Errorf("%s (%s) is a standby, in recovery; rejoin the promoted primary", p.Name, p.Address)
	}
	return nil
}

// slot makes sure this node's slot exists on the new primary: promote
// creates it, but a primary promoted by hand has none.
func (n *Node) slot() engine.Phase {
	name := metadata.SlotName(n.Doc.Node)
	p := n.db().Primary
	return engine.Phase{
		Name: "slot", Summary: "replication slot " + name + " on " + p.Name,
		Actions: []string{"CREATE_REPLICATION_SLOT " + name + " PHYSICAL RESERVE_WAL over " + n.primaryConninfo()},
		Check: func(ctx context.Context) (bool, error) {
			conn, err := n.ownerSession(ctx, p)
			if err != nil {
				return false, err
			}
			defer conn.Close(ctx)
			var exists bool
			err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", name).Scan(&exists)
			return exists, err
		},
		Apply: func(ctx context.Context) error {
			cfg, err := pgconn.ParseConfig(n.primaryConninfo())
			if err != nil {
				return err
			}
			return pg.CreatePhysicalSlot(ctx, cfg, name)
		},
	}
}

// follow restarts PostgreSQL with the standby settings and waits until WAL
// streams from the new primary.
func (n *Node) follow() engine.Phase {
	p, port := n.db().Primary, n.instance().Port
	fromPrimary := func(ctx context.Context) (bool, error) {
		host, status, err := pg.WALReceiver(ctx, port)
		return err == nil && status == "streaming" && host == p.Address, nil
	}
	return engine.Phase{
		Name: "follow", Summary: "streaming from " + p.Name + " (" + p.Address + ") on slot " + metadata.SlotName(n.Doc.Node),
		Actions: []string{"systemctl restart " + n.unit(), "SELECT status, conninfo FROM pg_stat_wal_receiver"},
		Check:   fromPrimary,
		Apply: func(ctx context.Context) error {
			if err := pg.Restart(ctx, n.Systemd, n.unit(), port); err != nil {
				return err
			}
			return steps.WaitFor(ctx, n.PrimaryWait, "WAL streaming from "+p.Address, fromPrimary)
		},
	}
}
