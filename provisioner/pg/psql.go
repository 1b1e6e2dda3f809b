package pg

import (
	"context"
	"fmt"
	"strings"

	"xroad-appliance/provisioner/system"
)

// PSQL runs sql with psql as the postgres OS user on the local instance at
// port and returns its unaligned, tuples-only output. Peer authentication
// needs no pg_ident map, so an instance the appliance only reads from (the
// default one) keeps the access its packages gave it. Never pass passwords.
func PSQL(ctx context.Context, port int, db, sql string) (string, error) {
	out, err := system.Run(ctx, system.Cmd{User: "postgres", Stdin: strings.NewReader(sql),
		Args: []string{"psql", "-X", "-qtA", "-v", "ON_ERROR_STOP=1", "-h", SocketDir, "-p", fmt.Sprint(port), "-d", db}})
	return strings.TrimSpace(string(out)), err
}
