package status

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"xroad-appliance/provisioner/metadata"
)

// database is what the database probe found.
type database struct {
	accepts   bool
	primary   *PrimaryState
	secondary *SecondaryState
}

func unitState(ctx context.Context, c *Inputs) (string, error) {
	if c.Facts == nil {
		return "", errors.New("unit unknown without the platform facts")
	}
	if c.Systemd == nil {
		return "", errors.New("no systemd connection")
	}
	return c.Systemd.ActiveState(ctx, c.Facts.PG.Serverconf.Unit+".service")
}

// probeDatabase connects to the serverconf instance and reads the role's
// replication view. Its error is about the connection; a failed query is
// reported in the role's section.
func probeDatabase(ctx context.Context, c *Inputs) (database, error) {
	if c.Facts == nil {
		return database{}, errors.New("port unknown without the platform facts")
	}
	conn, err := connect(ctx, c.SocketDir, c.Facts.PG.Serverconf.Port)
	if err != nil {
		return database{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	db := database{accepts: true}
	switch role(c) {
	case metadata.RolePrimary:
		db.primary = primaryState(ctx, conn, c)
	case metadata.RoleSecondary:
		db.secondary = secondaryState(ctx, conn, c)
	}
	return db, nil
}

// connect reaches the local instance as postgres over the Unix socket, the
// way the provisioner does (root is mapped to postgres in pg_ident.conf).
func connect(ctx context.Context, socketDir string, port int) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", socketDir, port))
	if err != nil {
		return nil, fmt.Errorf("serverconf connection settings: %w", err)
	}
	cfg.RuntimeParams["application_name"] = "xroad-node status"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

// primaryState reads pg_stat_replication and matches it against the
// secondaries the role document expects.
func primaryState(ctx context.Context, conn *pgx.Conn, c *Inputs) *PrimaryState {
	p := &PrimaryState{Secondaries: []Standby{}, Missing: []string{}}
	fail := func(err error) *PrimaryState {
		p.Error = err.Error()
		return p
	}
	var rec bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec); err != nil {
		return fail(fmt.Errorf("pg_is_in_recovery: %w", err))
	}
	p.InRecovery = &rec

	expected := map[string]bool{}
	for _, s := range c.Doc.Secondaries {
		expected[s.Name] = true
	}
	standbys, err := replicationRows(ctx, conn, c, func(name string) bool { return expected[name] })
	if err != nil {
		return fail(err)
	}
	p.Secondaries = standbys
	seen := map[string]bool{}
	for _, s := range standbys {
		seen[s.Name] = true
	}
	for _, s := range c.Doc.Secondaries {
		if !seen[s.Name] {
			p.Missing = append(p.Missing, s.Name)
		}
	}
	return p
}

// replicationRows reads pg_stat_replication with each standby's WAL
// positions and replay lag; expected tells the standbys the role document lists.
func replicationRows(ctx context.Context, conn *pgx.Conn, c *Inputs, expected func(name string) bool) ([]Standby, error) {
	q, err := replicationQuery(ctx, conn, c)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("pg_stat_replication: %w", err)
	}
	standbys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Standby, error) {
		var s Standby
		err := row.Scan(&s.Name, &s.ClientAddr, &s.State, &s.SyncState,
			&s.SentLSN, &s.WriteLSN, &s.FlushLSN, &s.ReplayLSN, &s.ReplayLagBytes, &s.ReplayLagSeconds)
		s.Expected = expected(s.Name)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("pg_stat_replication: %w", err)
	}
	return standbys, nil
}

// replicationQuery names pg_stat_replication's columns and functions as the
// platform's PostgreSQL version does (replay_lsn or replay_location), and
// asks the server whether it keeps replay_lag (PostgreSQL 10 on).
func replicationQuery(ctx context.Context, conn *pgx.Conn, c *Inputs) (string, error) {
	f := c.Facts.PG
	suffix := strings.TrimPrefix(f.ReplicationLSNColumn, "replay")
	var hasLag bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute
		WHERE attrelid = 'pg_catalog.pg_stat_replication'::regclass AND attname = 'replay_lag')`).Scan(&hasLag)
	if err != nil {
		return "", fmt.Errorf("pg_stat_replication columns: %w", err)
	}
	lag := "NULL::float8"
	if hasLag {
		lag = "extract(epoch FROM replay_lag)::float8"
	}
	col := func(name string) string { return "coalesce(" + name + suffix + "::text, '')" }
	// The current WAL position is an error in recovery: no byte lag then.
	return fmt.Sprintf(`SELECT coalesce(application_name, ''), coalesce(host(client_addr), ''),
		coalesce(state, ''), coalesce(sync_state, ''), %s, %s, %s, %s,
		CASE WHEN NOT pg_is_in_recovery() THEN %s(%s(), replay%s)::int8 END, %s
		FROM pg_stat_replication ORDER BY application_name`,
		col("sent"), col("write"), col("flush"), col("replay"),
		f.Functions.LSNDiff, f.Functions.CurrentLSN, suffix, lag), nil
}

// secondaryState reads the standby's recovery progress.
func secondaryState(ctx context.Context, conn *pgx.Conn, c *Inputs) *SecondaryState {
	fn := c.Facts.PG.Functions
	s := &SecondaryState{}
	// The paused check raises an error outside recovery, hence the CASE.
	q := fmt.Sprintf(`SELECT pg_is_in_recovery(),
		CASE WHEN pg_is_in_recovery() THEN %s() END,
		coalesce(%s()::text, ''), coalesce(%s()::text, ''),
		%s(%s(), %s())::int8, pg_last_xact_replay_timestamp()`,
		fn.ReplayPaused, fn.LastReceive, fn.LastReplay, fn.LSNDiff, fn.LastReceive, fn.LastReplay)
	if err := conn.QueryRow(ctx, q).Scan(&s.InRecovery, &s.ReplayPaused, &s.ReceiveLSN, &s.ReplayLSN, &s.LagBytes, &s.LastReplay); err != nil {
		s.Error = fmt.Sprintf("recovery state: %v", err)
		return s
	}
	if s.LastReplay != nil {
		t := s.LastReplay.UTC()
		s.LastReplay = &t
	}
	status, err := walReceiver(ctx, conn)
	if err != nil {
		s.Error = fmt.Sprintf("WAL receiver: %v", err)
	}
	s.WalReceiver = status
	return s
}

// walReceiver returns pg_stat_wal_receiver's status, "none" when no receiver
// runs, and "" when the server has no such view (before PostgreSQL 9.6).
func walReceiver(ctx context.Context, conn *pgx.Conn) (string, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('pg_catalog.pg_stat_wal_receiver') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return "", nil // to_regclass itself is missing before 9.4: unknown, not an error
	}
	var status string
	err := conn.QueryRow(ctx, "SELECT coalesce(status, '') FROM pg_stat_wal_receiver").Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "none", nil
	}
	return status, err
}
