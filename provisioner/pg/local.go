package pg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"xroad-appliance/provisioner/confedit"
	"xroad-appliance/provisioner/retry"
	"xroad-appliance/provisioner/system"
)

// SocketDir is where Debian and RHEL PostgreSQL put their Unix sockets.
const SocketDir = "/var/run/postgresql"

// IdentMap is the pg_ident.conf map that lets root (the provisioner) and
// postgres connect over the local socket as the postgres role; peer
// authentication alone maps root to a role named root.
const IdentMap = "xroad-node"

// HBALocal is the pg_hba.conf line that uses IdentMap.
const HBALocal = "local   all   postgres   peer map=" + IdentMap

// IdentLines are the pg_ident.conf lines of IdentMap.
const IdentLines = IdentMap + "   root       postgres\n" + IdentMap + "   postgres   postgres\n"

// Local connects to a local instance as postgres over the Unix socket.
func Local(ctx context.Context, port int, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", SocketDir, port, database))
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the local instance on port %d: %w", port, err)
	}
	// Statements below may carry password verifiers: keep them out of the log.
	if _, err := conn.Exec(ctx, "SET log_statement = 'none'"); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

// Restart restarts an instance's unit and waits until it accepts local
// connections again.
func Restart(ctx context.Context, sd system.Units, unit string, port int) error {
	if err := sd.Restart(ctx, unit); err != nil {
		return err
	}
	return WaitLocal(ctx, port, time.Minute)
}

// WaitLocal waits until the instance accepts connections.
func WaitLocal(ctx context.Context, port int, timeout time.Duration) error {
	return retry.Until(ctx, retry.Policy{First: 100 * time.Millisecond, Max: 250 * time.Millisecond, Timeout: timeout},
		fmt.Sprintf("the local instance on port %d", port), func(ctx context.Context) (bool, error) {
			conn, err := Local(ctx, port, "postgres")
			if err != nil {
				return false, err
			}
			return true, conn.Close(ctx)
		})
}

// RoleExists reports whether a role exists.
func RoleExists(ctx context.Context, conn *pgx.Conn, role string) (bool, error) {
	var n int
	err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", role).Scan(&n)
	return n == 1, err
}

// DatabaseExists reports whether a database exists.
func DatabaseExists(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var n int
	err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
	return n == 1, err
}

// Ident quotes an identifier: utility statements take no bind parameters.
func Ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// Literal quotes a string literal for a utility statement.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// InRecovery reports pg_is_in_recovery().
func InRecovery(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var b bool
	err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&b)
	return b, err
}

// IsUnavailable tells a connection refusal from other errors.
func IsUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	return err != nil && !errors.As(err, &pgErr)
}

// PasswordWorks reports whether role logs in with password over TCP on
// localhost: the only honest check of a stored password.
func PasswordWorks(ctx context.Context, port int, role, password, database string) bool {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d sslmode=prefer", port))
	if err != nil {
		return false
	}
	cfg.User, cfg.Password, cfg.Database = role, password, database
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}

// Streaming returns the application_names streaming from this primary.
func Streaming(ctx context.Context, port int) (map[string]bool, error) {
	conn, err := Local(ctx, port, "postgres")
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, err
}

// WALReceiver reports a standby's WAL receiver: the host it connects to and
// its status ("streaming", ...), both empty when none runs.
func WALReceiver(ctx context.Context, port int) (host, status string, err error) {
	conn, err := Local(ctx, port, "postgres")
	if err != nil {
		return "", "", err
	}
	defer conn.Close(ctx)
	var conninfo string
	err = conn.QueryRow(ctx, "SELECT status, coalesce(conninfo, '') FROM pg_stat_wal_receiver").Scan(&status, &conninfo)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("pg_stat_wal_receiver: %w", err)
	}
	return confedit.ParseConninfo(conninfo)["host"], status, nil
}

// ReceivedTimeline is the timeline of the last WAL a standby's receiver
// flushed; 0 when no receiver runs.
func ReceivedTimeline(ctx context.Context, port int) (int, error) {
	conn, err := Local(ctx, port, "postgres")
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var tli int
	err = conn.QueryRow(ctx, "SELECT coalesce(received_tli, 0) FROM pg_stat_wal_receiver").Scan(&tli)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return tli, err
}
