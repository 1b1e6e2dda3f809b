package pg

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"xroad-appliance/provisioner/confedit"

	"github.com/jackc/pgx/v5/pgconn"
)

// TLSFiles are the node's PostgreSQL certificate files (guide 4.1).
type TLSFiles struct{ CA, Cert, Key string }

// TLSIn are the certificate files ca.crt, server.crt and server.key in dir.
func TLSIn(dir string) TLSFiles {
	return TLSFiles{CA: dir + "/ca.crt", Cert: dir + "/server.crt", Key: dir + "/server.key"}
}

// Settings are the postgresql.conf lines that serve TLS with these files.
func (t TLSFiles) Settings() []string {
	return []string{
		"ssl = on",
		"ssl_ca_file   = " + confedit.PGString(t.CA),
		"ssl_cert_file = " + confedit.PGString(t.Cert),
		"ssl_key_file  = " + confedit.PGString(t.Key),
	}
}

// ReplicationConninfo is how a standby reaches the primary: certificate
// authentication as the node's CN with the primary's certificate checked
// against the cluster CA (verify-ca, guide 4.4). application_name makes
// pg_stat_replication show the node's name.
func ReplicationConninfo(host string, port int, node string, tls TLSFiles) map[string]string {
	return map[string]string{
		"host": host, "port": fmt.Sprint(port), "user": node, "application_name": node,
		"sslmode": "verify-ca", "sslcert": tls.Cert, "sslkey": tls.Key, "sslrootcert": tls.CA,
	}
}

// ConninfoOrder is the guide's order of primary_conninfo keys.
var ConninfoOrder = []string{"host", "port", "user", "sslmode", "sslcert", "sslkey", "sslrootcert", "application_name"}

// Identity is what a server says of its cluster: the system identifier and
// the timeline it is on.
type Identity struct {
	SystemID string
	Timeline int
}

// PrimarySystemID connects to the primary as a physical replication client and
// returns its system identifier (IDENTIFY_SYSTEM). It proves the certificate,
// the replication user and pg_hba all work before a base backup starts.
func PrimarySystemID(ctx context.Context, conninfo string) (string, error) {
	id, err := Identify(ctx, conninfo)
	return id.SystemID, err
}

// Identify is IdentifySystem for a conninfo string.
func Identify(ctx context.Context, conninfo string) (Identity, error) {
	cfg, err := pgconn.ParseConfig(conninfo)
	if err != nil {
		return Identity{}, fmt.Errorf("replication conninfo: %w", err)
	}
	return IdentifySystem(ctx, cfg)
}

// IdentifySystem asks a server over a physical replication connection which
// cluster and timeline it is on; a standby answers with the timeline it
// replays.
func IdentifySystem(ctx context.Context, cfg *pgconn.Config) (Identity, error) {
	cfg.RuntimeParams["replication"] = "true"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return Identity{}, fmt.Errorf("replication connection to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	defer conn.Close(ctx)
	res, err := conn.Exec(ctx, "IDENTIFY_SYSTEM").ReadAll()
	if err != nil {
		return Identity{}, fmt.Errorf("IDENTIFY_SYSTEM: %w", err)
	}
	if len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) < 2 {
		return Identity{}, fmt.Errorf("IDENTIFY_SYSTEM: unexpected answer")
	}
	tli, err := strconv.Atoi(string(res[0].Rows[0][1]))
	if err != nil {
		return Identity{}, fmt.Errorf("IDENTIFY_SYSTEM: timeline %q", res[0].Rows[0][1])
	}
	return Identity{SystemID: string(res[0].Rows[0][0]), Timeline: tli}, nil
}

// CreatePhysicalSlot creates a physical replication slot over a replication
// connection, reserving WAL from now on; an existing slot is left as it is.
// The replication privilege is enough, unlike pg_create_physical_replication_slot.
func CreatePhysicalSlot(ctx context.Context, cfg *pgconn.Config, slot string) error {
	cfg.RuntimeParams["replication"] = "true"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("replication connection to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE_REPLICATION_SLOT "+Ident(slot)+" PHYSICAL RESERVE_WAL").ReadAll()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42710" { // duplicate_object
		return nil
	}
	if err != nil {
		return fmt.Errorf("replication slot %s: %w", slot, err)
	}
	return nil
}
