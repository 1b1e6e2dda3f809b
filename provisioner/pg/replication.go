package pg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// TLSFiles are the node's PostgreSQL certificate files (guide 4.1).
type TLSFiles struct{ CA, Cert, Key string }

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

// PrimarySystemID connects to the primary as a physical replication client and
// returns its system identifier (IDENTIFY_SYSTEM). It proves the certificate,
// the replication user and pg_hba all work before a base backup starts.
func PrimarySystemID(ctx context.Context, conninfo string) (string, error) {
	cfg, err := pgconn.ParseConfig(conninfo)
	if err != nil {
		return "", fmt.Errorf("replication conninfo: %w", err)
	}
	cfg.RuntimeParams["replication"] = "true"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("replication connection to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	defer conn.Close(ctx)
	res, err := conn.Exec(ctx, "IDENTIFY_SYSTEM").ReadAll()
	if err != nil {
		return "", fmt.Errorf("IDENTIFY_SYSTEM: %w", err)
	}
	if len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) < 1 {
		return "", fmt.Errorf("IDENTIFY_SYSTEM: unexpected answer")
	}
	return string(res[0].Rows[0][0]), nil
}
