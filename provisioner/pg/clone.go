package pg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"xroad-appliance/provisioner/atomicfile"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/retry"
	"xroad-appliance/provisioner/system"
)

// Clone replaces a stopped instance's data directory with a base backup of
// its primary, safely: a directory whose postmaster is alive is refused; the
// backup goes into a temporary directory, gets its standby file before
// anything could start it as a second primary, and is then swapped in; the
// replaced directory is moved aside, never deleted.
//
// The temporary directory is this program's own: a backup that broke off is
// removed, not kept (each would be up to a full copy of the database); one
// that finished but was not swapped in (a crash in between) is used instead
// of taken again while it is fresh.
type Clone struct {
	DataDir string
	// Args are pg_basebackup's arguments without -D; Env carries the TLS
	// and passfile settings (never a password).
	Args, Env []string
	// Standby is standby.signal or recovery.conf, written into the backup.
	Standby engine.File
	// Usable reports whether a finished backup is of the primary's cluster;
	// nil uses none.
	Usable func(ctx context.Context, dir string) (bool, error)
	// SyncFS says Args carry --no-sync: pg_basebackup leaves out its fsync
	// of each file, and one sync of the backup's file system follows.
	SyncFS bool
}

// BackupSuffix and CompleteSuffix name the temporary backup directory and
// the marker written once pg_basebackup returned 0 and the standby file is
// in. backup_manifest (PostgreSQL 13 on) is not the marker: pg_basebackup
// writes it before the WAL stream has ended and before its fsync.
const (
	BackupSuffix   = ".xroad-basebackup"
	CompleteSuffix = ".complete"
	// finishedFresh bounds how old a finished backup may be and still be
	// used: the primary keeps the WAL after it for a while only.
	finishedFresh = 30 * time.Minute
)

// Run makes the clone; the instance must be stopped.
func (c Clone) Run(ctx context.Context) error {
	if pid, alive := LivePostmaster(c.DataDir); alive {
		return retry.Final(fmt.Errorf("%s: a postmaster (pid %d) is running on it; refusing to replace a live data directory", c.DataDir, pid))
	}
	tmp := c.DataDir + BackupSuffix
	if err := RemoveInterruptedBackups(c.DataDir); err != nil {
		return err
	}
	finished, err := c.finished(ctx, tmp)
	if err != nil {
		return err
	}
	if finished {
		system.Notify("using the base backup finished at " + tmp)
	} else {
		if err := c.take(ctx, tmp); err != nil {
			return err
		}
	}
	if _, err := os.Stat(c.DataDir); err == nil {
		aside, err := system.MoveAside(c.DataDir, replacedAs)
		if err != nil {
			return err
		}
		system.Notify("previous data directory kept at " + aside)
	}
	if err := os.Rename(tmp, c.DataDir); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(filepath.Dir(c.DataDir)); err != nil {
		return err
	}
	return removeMarker(tmp)
}

// take runs pg_basebackup into tmp, writes the standby file and marks the
// backup finished. A backup that fails is removed: it is this program's
// partial copy, and a retry starts anew.
func (c Clone) take(ctx context.Context, tmp string) error {
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := system.MkdirOwned(tmp, 0o700, "postgres:postgres"); err != nil {
		return err
	}
	system.ExtendTimeout(uint64(30 * 60 * 1e6))
	args := append([]string{"pg_basebackup"}, c.Args...)
	if _, err := system.Run(ctx, system.Cmd{User: "postgres", Env: c.Env, Args: append(args, "-D", tmp)}); err != nil {
		if rerr := os.RemoveAll(tmp); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	if c.SyncFS {
		if err := system.SyncFS(tmp); err != nil {
			return err
		}
	}
	f := c.Standby
	if err := system.WriteFile(filepath.Join(tmp, filepath.Base(f.Path)), f.Content, f.Mode, f.Owner); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return err
	}
	return atomicfile.Write(tmp+CompleteSuffix, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600)
}

// finished reports whether tmp holds a finished, fresh backup of the
// primary's cluster; anything else found there is removed.
func (c Clone) finished(ctx context.Context, tmp string) (bool, error) {
	marker, err := os.Stat(tmp + CompleteSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(tmp); err != nil || c.Usable == nil || time.Since(marker.ModTime()) > finishedFresh {
		return false, removeMarker(tmp)
	}
	ok, err := c.Usable(ctx, tmp)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, removeMarker(tmp)
	}
	return true, nil
}

func removeMarker(tmp string) error {
	if err := os.Remove(tmp + CompleteSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// What a base backup leaves beside a data directory is named by system.MoveAside:
// DATADIR.replaced-TIME, and DATADIR.xroad-basebackup.interrupted-TIME from
// earlier versions.
const (
	replacedAs    = "replaced"
	interruptedAs = "interrupted"
)

// Leftover is a directory base backups left beside a data directory; Kind
// is replaced (a data directory a backup took the place of: kept, it may
// hold someone's data) or interrupted (a backup under way or broken off).
type Leftover struct{ Path, Kind string }

// Leftovers lists the directories base backups left beside dataDir.
func Leftovers(dataDir string) []Leftover {
	var out []Leftover
	for _, k := range []struct{ glob, kind string }{
		{dataDir + "." + replacedAs + "-*", replacedAs},
		{dataDir + BackupSuffix, interruptedAs},
		{dataDir + BackupSuffix + "." + interruptedAs + "-*", interruptedAs},
	} {
		paths, _ := filepath.Glob(k.glob) // the patterns are well-formed
		for _, p := range paths {
			if st, err := os.Lstat(p); err == nil && st.IsDir() {
				out = append(out, Leftover{Path: p, Kind: k.kind})
			}
		}
	}
	return out
}

// RemoveInterruptedBackups removes the backups earlier versions kept aside
// as DATADIR.xroad-basebackup.interrupted-TIME: copies this program made
// and never used. Moved-aside data directories (.replaced-) stay.
func RemoveInterruptedBackups(dataDir string) error {
	old, err := filepath.Glob(dataDir + BackupSuffix + "." + interruptedAs + "-*")
	if err != nil {
		return err
	}
	for _, d := range old {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		system.Notify("removed the interrupted base backup " + d)
	}
	return nil
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
