package securityserver

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/retry"
	"xroad-appliance/provisioner/system"
)

// baseBackup replaces the secondary's fresh serverconf data directory with a
// base backup of the primary (guide 4.4), safely:
//   - a data directory whose postmaster is alive is refused;
//   - a data directory of another cluster (neither the primary's system
//     identifier nor the empty instance this provisioner created) is refused;
//   - the backup goes into a temporary directory, gets its standby file
//     first, and is then swapped in; the replaced directory is moved aside.
//
// It is in place when the data directory carries the primary's system
// identifier, so a rerun never clones again.
func (n *Node) baseBackup() engine.Phase {
	dataDir := n.Facts.PG.Serverconf.DataDir
	conninfo := n.primaryConninfo()
	createdID := n.State.ServerconfCreated()
	args := []string{"-h", n.Doc.Primary.Address, "-p", strconv.Itoa(n.primaryPort()),
		"-U", n.Doc.Node, "-X", "stream", "-c", "fast", "--no-password"}
	// Without its fsync of each file, then one sync of the file system:
	// as durable, seconds faster on a small machine.
	_, lacksNoSync := n.Facts.PG.Lacks[profiles.FeatureNoSync]
	if !lacksNoSync {
		args = append(args, "--no-sync")
	}
	return engine.Phase{
		Name: "basebackup", Summary: "base backup of the primary over verify-ca as " + n.Doc.Node,
		Actions: []string{fmt.Sprintf("PGSSLMODE=verify-ca PGSSLROOTCERT=%s PGSSLCERT=%s PGSSLKEY=%s pg_basebackup %s -D <temporary directory> (as postgres)",
			n.tls().CA, n.tls().Cert, n.tls().Key, strings.Join(args, " ")),
			"write " + n.standbyFile().Path + " into the backup", "swap it in; move the old data directory aside"},
		Check: func(ctx context.Context) (bool, error) {
			primary, err := pg.PrimarySystemID(ctx, conninfo)
			if err != nil {
				return false, err
			}
			local, err := n.systemID(ctx, dataDir)
			return err == nil && local == primary, nil
		},
		Apply: func(ctx context.Context) error {
			primary, err := pg.PrimarySystemID(ctx, conninfo)
			if err != nil {
				return err
			}
			// Another cluster's data is refused before anything is stopped.
			if local, err := n.systemID(ctx, dataDir); err == nil {
				if err := refuseForeign(dataDir, local, primary, createdID); err != nil {
					return err
				}
			}
			if err := n.Systemd.Stop(ctx, n.serverconfUnit()); err != nil {
				return err
			}
			system.Notify("base backup from " + n.Doc.Primary.Address)
			// The backup's WAL stream shows in pg_stat_replication as
			// "streaming": under the node's own name the primary's verify
			// would take it for the standby.
			return pg.Clone{DataDir: dataDir, Standby: n.standbyFile(),
				Usable: func(ctx context.Context, dir string) (bool, error) {
					id, err := n.systemID(ctx, dir)
					return err == nil && id == primary, nil
				},
				Env:  []string{"PGSSLMODE=verify-ca", "PGSSLROOTCERT=" + n.tls().CA, "PGSSLCERT=" + n.tls().Cert, "PGSSLKEY=" + n.tls().Key, "PGAPPNAME=" + n.Doc.Node + " basebackup"},
				Args: args, SyncFS: !lacksNoSync,
			}.Run(ctx)
		},
	}
}

// refuseForeign allows replacing only a data directory that already belongs
// to the primary's cluster or that this provisioner created empty.
func refuseForeign(dataDir, local, primary, createdID string) error {
	if local == primary {
		return nil
	}
	created, _ := os.ReadFile(createdID)
	if strings.TrimSpace(string(created)) == local {
		return nil
	}
	return retry.Final(fmt.Errorf("%s holds the cluster with system identifier %s, which is neither the primary's (%s) nor the instance this node created; refusing to replace it (move it away by hand if it is disposable)", dataDir, local, primary))
}

// systemID reads a data directory's system identifier.
func (n *Node) systemID(ctx context.Context, dataDir string) (string, error) {
	return pg.SystemID(ctx, n.Facts.PG.BinDir, dataDir)
}

// recordCreated remembers the system identifier of the instance this node
// created, so that baseBackup may replace it and nothing else.
func (n *Node) recordCreated(ctx context.Context) error {
	id, err := n.systemID(ctx, n.Facts.PG.Serverconf.DataDir)
	if err != nil {
		return err
	}
	return n.State.Write(n.State.ServerconfCreated(), []byte(id+"\n"))
}
