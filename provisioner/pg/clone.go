package pg

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
	"xroad-appliance/provisioner/system"
)

// Clone replaces a stopped instance's data directory with a base backup of
// its primary, safely: a directory whose postmaster is alive is refused; the
// backup goes into a temporary directory, gets its standby file before
// anything could start it as a second primary, and is then swapped in; the
// replaced directory is moved aside, never deleted.
type Clone struct {
	DataDir string
	// Args are pg_basebackup's arguments without -D; Env carries the TLS
	// and passfile settings (never a password).
	Args, Env []string
	// Standby is standby.signal or recovery.conf, written into the backup.
	Standby engine.File
}

// Run makes the clone; the instance must be stopped.
func (c Clone) Run(ctx context.Context) error {
	if pid, alive := LivePostmaster(c.DataDir); alive {
		return fmt.Errorf("%s: a postmaster (pid %d) is running on it; refusing to replace a live data directory", c.DataDir, pid)
	}
	tmp := c.DataDir + ".xroad-basebackup"
	if _, err := os.Stat(tmp); err == nil {
		// A backup a crash interrupted: keep it for inspection, start anew.
		if _, err := system.MoveAside(tmp, "interrupted"); err != nil {
			return err
		}
	}
	if err := system.MkdirOwned(tmp, 0o700, "postgres:postgres"); err != nil {
		return err
	}
	system.ExtendTimeout(uint64(30 * 60 * 1e6))
	args := append([]string{"pg_basebackup"}, c.Args...)
	if _, err := system.Run(ctx, system.Cmd{User: "postgres", Env: c.Env, Args: append(args, "-D", tmp)}); err != nil {
		return err
	}
	f := c.Standby
	if err := system.WriteFile(filepath.Join(tmp, filepath.Base(f.Path)), f.Content, f.Mode, f.Owner); err != nil {
		return err
	}
	if _, err := os.Stat(c.DataDir); err == nil {
		aside, err := system.MoveAside(c.DataDir, "replaced")
		if err != nil {
			return err
		}
		system.Notify("previous data directory kept at " + aside)
	}
	return os.Rename(tmp, c.DataDir)
}

// SystemID reads a data directory's system identifier with pg_controldata.
func SystemID(ctx context.Context, binDir, dataDir string) (string, error) {
	id, err := ControlData(ctx, binDir, dataDir)
	return id.SystemID, err
}

// ControlData reads a data directory's system identifier and the timeline
// of its latest checkpoint with pg_controldata: a stopped server's timeline.
func ControlData(ctx context.Context, binDir, dataDir string) (Identity, error) {
	out, err := system.Run(ctx, system.Cmd{User: "postgres", Args: []string{binDir + "/pg_controldata", "-D", dataDir}})
	if err != nil {
		return Identity{}, err
	}
	var id Identity
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Database system identifier:"); ok {
			id.SystemID = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "Latest checkpoint's TimeLineID:"); ok {
			id.Timeline, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if id.SystemID == "" || id.Timeline == 0 {
		return Identity{}, errors.New("pg_controldata printed no system identifier or timeline")
	}
	return id, nil
}

// LivePostmaster reports whether postmaster.pid names a running process.
func LivePostmaster(dataDir string) (int, bool) {
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
