package syncserve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"xroad-appliance/provisioner/metadata"
)

// SeenDir is the directory in the sync user's home where serve-sync records
// when each secondary last synced: one empty file per member, named after
// it, whose modification time is the moment. Members come and go by
// themselves, so the primary's status needs to tell one that stopped
// syncing from one that never came.
const SeenDir = "seen"

// CheckName accepts only a node name: the member name is a word of the
// forced command and a file name under SeenDir.
func CheckName(name string) error {
	if msg := metadata.NameProblem(name, true); msg != "" {
		return fmt.Errorf("member name %q: %s", name, msg)
	}
	return nil
}

// AuthorizedKey is the authorized_keys line of one secondary's key: forced
// to binary's serve-sync, which is told the member's name so that it can
// record the sync.
func AuthorizedKey(binary, name, key string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	key = strings.TrimSpace(key)
	if key == "" || strings.ContainsAny(key, "\r\n") {
		return "", fmt.Errorf("member %s: the SSH public key must be one line", name)
	}
	return fmt.Sprintf("restrict,command=\"%s serve-sync %s\" %s %s", binary, name, key, name), nil
}

// Seen records that member name started a sync at now, in home's SeenDir
// (made by the primary's sync-user phase).
func Seen(home, name string, now time.Time) error {
	if err := CheckName(name); err != nil {
		return err
	}
	path := filepath.Join(home, SeenDir, name)
	// Only Seen writes here; still, a link or a FIFO found in its place is
	// neither followed nor waited on.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return fmt.Errorf("record the sync of %s: %w", name, err)
	}
	st, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("record the sync of %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("record the sync of %s: %s is not a regular file", name, path)
	}
	ts := []unix.Timespec{unix.NsecToTimespec(now.UnixNano()), unix.NsecToTimespec(now.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("record the sync of %s: %s: %w", name, path, err)
	}
	return nil
}

// LastSeen reads the records Seen writes in home: member name → when it last
// started a sync. Without the directory nobody has been seen yet. Entries
// that are not a member's regular file are skipped.
func LastSeen(home string) (map[string]time.Time, error) {
	seen := map[string]time.Time{}
	entries, err := os.ReadDir(filepath.Join(home, SeenDir))
	if errors.Is(err, fs.ErrNotExist) {
		return seen, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || CheckName(e.Name()) != nil {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, err
		}
		seen[e.Name()] = info.ModTime()
	}
	return seen, nil
}
