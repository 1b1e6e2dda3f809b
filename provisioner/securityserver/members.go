package securityserver

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
)

// The cluster's secondaries are recorded in the serverconf instance, which
// replication carries to every secondary: a secondary promoted later lets
// in, and is pinned by, the nodes that joined after it was made, whose names
// and keys no document of its own lists.
const (
	membersDatabase = "postgres"
	membersTable    = "xroad_node.members"
)

var membersDDL = []string{
	"CREATE SCHEMA IF NOT EXISTS xroad_node",
	"CREATE TABLE IF NOT EXISTS " + membersTable + " (name text PRIMARY KEY, address text NOT NULL DEFAULT '', ssh_public_key text NOT NULL, host_key text NOT NULL DEFAULT '')",
}

// membersRecord makes the table hold exactly the document's secondaries.
func (n *Node) membersRecord() engine.Phase {
	want := n.Doc.Secondaries
	port := n.Facts.PG.Serverconf.Port
	return engine.Phase{
		Name: "members", Summary: "the cluster's secondaries recorded in " + membersTable + ", replicated to every secondary",
		Actions: append(append([]string{}, membersDDL...), fmt.Sprintf("rows of %s: %s", membersTable, memberNames(want))),
		Check: func(ctx context.Context) (bool, error) {
			got, err := ReplicatedMembers(ctx, port)
			if err != nil {
				return false, nil // no table yet
			}
			return sameMembers(got, want), nil
		},
		Apply: func(ctx context.Context) error {
			conn, err := pg.Local(ctx, port, membersDatabase)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				for _, s := range membersDDL {
					if _, err := tx.Exec(ctx, s); err != nil {
						return err
					}
				}
				names := []string{}
				for _, m := range want {
					names = append(names, m.Name)
					if _, err := tx.Exec(ctx, "INSERT INTO "+membersTable+" (name, address, ssh_public_key, host_key) VALUES ($1, $2, $3, $4) "+
						"ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, ssh_public_key = EXCLUDED.ssh_public_key, host_key = EXCLUDED.host_key",
						m.Name, m.Address, m.SSHPublicKey, m.HostKey); err != nil {
						return err
					}
				}
				_, err := tx.Exec(ctx, "DELETE FROM "+membersTable+" WHERE NOT (name = ANY($1))", names)
				return err
			})
		},
	}
}

// ReplicatedMembers reads the secondaries recorded by the primary, on the
// primary or on any secondary (a hot standby answers reads). Before the
// primary recorded any, it is an error.
func ReplicatedMembers(ctx context.Context, port int) ([]metadata.Member, error) {
	conn, err := pg.Local(ctx, port, membersDatabase)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT name, address, ssh_public_key, host_key FROM "+membersTable+" ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", membersTable, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (metadata.Member, error) {
		var m metadata.Member
		err := r.Scan(&m.Name, &m.Address, &m.SSHPublicKey, &m.HostKey)
		return m, err
	})
}

func sameMembers(got, want []metadata.Member) bool {
	if len(got) != len(want) {
		return false
	}
	byName := map[string]metadata.Member{}
	for _, m := range got {
		byName[m.Name] = m
	}
	for _, m := range want {
		if g, ok := byName[m.Name]; !ok || g != m {
			return false
		}
	}
	return true
}

func memberNames(ms []metadata.Member) string {
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return fmt.Sprint(names)
}
