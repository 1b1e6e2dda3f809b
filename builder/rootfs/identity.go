package rootfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ResetIdentity removes what makes a root file system one particular machine,
// so that every node made from the image gets its own: an empty
// /etc/machine-id (systemd makes one at first boot), no D-Bus machine id, no
// SSH host keys (cloud-init or sshd-keygen make them), hostname "localhost"
// (cloud-init sets it from meta-data).
func ResetIdentity(root string) error {
	if err := writeIfPresent(filepath.Join(root, "etc/machine-id"), nil, 0o444); err != nil {
		return err
	}
	if err := writeIfPresent(filepath.Join(root, "etc/hostname"), []byte("localhost\n"), 0o644); err != nil {
		return err
	}
	remove := []string{filepath.Join(root, "var/lib/dbus/machine-id")}
	keys, err := filepath.Glob(filepath.Join(root, "etc/ssh/ssh_host_*"))
	if err != nil {
		return err
	}
	for _, p := range append(remove, keys...) {
		// A D-Bus machine id that is a link to /etc/machine-id is fine, but
		// removing it is too: dbus falls back to /etc/machine-id.
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reset identity: %w", err)
		}
	}
	return nil
}

// writeIfPresent replaces a regular file's content; a missing file stays
// missing (not every base has every file).
func writeIfPresent(path string, data []byte, mode os.FileMode) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reset identity: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) && fi.Mode().Perm() == mode {
		return nil // unchanged: an overlay would copy it up for nothing
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("reset identity: %w", err)
	}
	return nil
}

// StampTimes sets the modification and access time of every entry under
// root, root included and symlinks themselves, to t: for trees the build
// writes from scratch, so that their times are part of the inputs.
func StampTimes(root string, t time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set times of %s: %w", p, err)
		}
		return nil
	})
}
