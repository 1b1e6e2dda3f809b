package securityserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/pg"
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
	createdID := filepath.Join(n.StateDir, "serverconf-created.sysid")
	return engine.Phase{
		Name: "basebackup", Summary: "base backup of the primary over verify-ca as " + n.Doc.Node,
		Actions: []string{fmt.Sprintf("PGSSLMODE=verify-ca PGSSLROOTCERT=%s PGSSLCERT=%s PGSSLKEY=%s pg_basebackup -h %s -p %d -U %s -D <temporary directory> -X stream -c fast (as postgres)",
			TLS.CA, TLS.Cert, TLS.Key, n.Doc.Primary.Address, n.Facts.PG.Serverconf.Port, n.Doc.Node),
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
			// A postmaster the unit does not manage (started by hand) is alive still.
			if pid, alive := livePostmaster(dataDir); alive {
				return fmt.Errorf("%s: a postmaster (pid %d) is running on it; refusing to replace a live data directory", dataDir, pid)
			}
			tmp := dataDir + ".xroad-basebackup"
			if _, err := os.Stat(tmp); err == nil {
				// A backup a crash interrupted: keep it for inspection, start anew.
				if _, err := system.MoveAside(tmp, "interrupted"); err != nil {
					return err
				}
			}
			if err := system.MkdirOwned(tmp, 0o700, "postgres:postgres"); err != nil {
				return err
			}
			system.Notify("base backup from " + n.Doc.Primary.Address)
			system.ExtendTimeout(uint64(30 * 60 * 1e6))
			// The backup's WAL stream shows in pg_stat_replication as
			// "streaming": under the node's own name the primary's verify
			// would take it for the standby.
			if _, err := system.Run(ctx, system.Cmd{User: "postgres", Env: []string{
				"PGSSLMODE=verify-ca", "PGSSLROOTCERT=" + TLS.CA, "PGSSLCERT=" + TLS.Cert, "PGSSLKEY=" + TLS.Key, "PGAPPNAME=" + n.Doc.Node + " basebackup",
			}, Args: []string{"pg_basebackup", "-h", n.Doc.Primary.Address, "-p", strconv.Itoa(n.Facts.PG.Serverconf.Port),
				"-U", n.Doc.Node, "-D", tmp, "-X", "stream", "-c", "fast", "--no-password"}}); err != nil {
				return err
			}
			// The standby file goes in before the swap: a data directory that
			// starts without it would come up as a second primary.
			f := n.standbyFile()
			if err := system.WriteFile(filepath.Join(tmp, filepath.Base(f.Path)), f.Content, f.Mode, f.Owner); err != nil {
				return err
			}
			if _, err := os.Stat(dataDir); err == nil {
				aside, err := system.MoveAside(dataDir, "replaced")
				if err != nil {
					return err
				}
				system.Notify("previous data directory kept at " + aside)
			}
			return os.Rename(tmp, dataDir)
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
	return fmt.Errorf("%s holds the cluster with system identifier %s, which is neither the primary's (%s) nor the instance this node created; refusing to replace it (move it away by hand if it is disposable)", dataDir, local, primary)
}

// systemID reads a data directory's system identifier with pg_controldata.
func (n *Node) systemID(ctx context.Context, dataDir string) (string, error) {
	out, err := system.Run(ctx, system.Cmd{User: "postgres", Args: []string{n.Facts.PG.BinDir + "/pg_controldata", "-D", dataDir}})
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Database system identifier:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("pg_controldata printed no system identifier")
}

// recordCreated remembers the system identifier of the instance this node
// created, so that baseBackup may replace it and nothing else.
func (n *Node) recordCreated(ctx context.Context) error {
	id, err := n.systemID(ctx, n.Facts.PG.Serverconf.DataDir)
	if err != nil {
		return err
	}
	return engine.WriteFileAtomic(filepath.Join(n.StateDir, "serverconf-created.sysid"), []byte(id+"\n"), 0o644)
}

// livePostmaster reports whether postmaster.pid names a running process.
func livePostmaster(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, syscall.Kill(pid, 0) == nil
}
