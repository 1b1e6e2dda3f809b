package system

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"xroad-appliance/provisioner/atomicfile"
)

// Owner resolves "user:group" (or "user") to numeric ids.
func Owner(owner string) (uid, gid int, err error) {
	u, g, _ := strings.Cut(owner, ":")
	ids, err := LookupIDs(u)
	if err != nil {
		return 0, 0, err
	}
	uid, gid = int(ids.UID), int(ids.GID)
	if g != "" {
		ggid, err := LookupGroupID(g)
		if err != nil {
			return 0, 0, err
		}
		gid = int(ggid)
	}
	return uid, gid, nil
}

// WriteFile writes content with mode and owner ("user:group") through a
// temporary file and a rename, so that readers see the old file or the new one.
func WriteFile(path string, content []byte, mode os.FileMode, owner string) error {
	uid, gid, err := Owner(owner)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteFileIDs(path, content, mode, uid, gid, owner)
}

// FileIs reports whether path has exactly this content, mode and owner.
func FileIs(path string, content []byte, mode os.FileMode, owner string) (bool, error) {
	st, err := os.Stat(path)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if st.Mode().Perm() != mode.Perm() {
		return false, nil
	}
	if ok, err := OwnedBy(st, owner); err != nil || !ok {
		return false, err
	}
	have, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return bytes.Equal(have, content), nil
}

// DirIs reports whether path is a directory, not a link to one, with
// exactly this mode and owner.
func DirIs(path string, mode os.FileMode, owner string) (bool, error) {
	st, err := os.Lstat(path)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !st.IsDir() || st.Mode().Perm() != mode.Perm() {
		return false, nil
	}
	return OwnedBy(st, owner)
}

// OwnedBy reports whether a file belongs to owner ("user:group").
func OwnedBy(st os.FileInfo, owner string) (bool, error) {
	uid, gid, err := Owner(owner)
	if err != nil {
		return false, err
	}
	sys := st.Sys().(*syscall.Stat_t)
	return int(sys.Uid) == uid && int(sys.Gid) == gid, nil
}

// MkdirOwned makes a directory (and parents) and sets mode and owner on the last one.
func MkdirOwned(path string, mode os.FileMode, owner string) error {
	if err := os.MkdirAll(path, mode); err != nil {
		return err
	}
	uid, gid, err := Owner(owner)
	if err != nil {
		return err
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

// MoveAside renames path to a sibling with a timestamped suffix and returns
// the new name: what the provisioner replaces is kept, never deleted.
func MoveAside(path, why string) (string, error) {
	dst := fmt.Sprintf("%s.%s-%s", path, why, time.Now().UTC().Format("20060102T150405Z"))
	err := os.Rename(path, dst)
	if errors.Is(err, syscall.EXDEV) {
		// A directory an image shipped, on an overlay file system (containers)
		// that cannot rename it: copied whole first, then the original goes.
		err = moveByCopy(path, dst)
	}
	if err != nil {
		return "", err
	}
	return dst, nil
}

func moveByCopy(path, dst string) error {
	if out, err := exec.Command("cp", "-a", "--", path, dst).CombinedOutput(); err != nil {
		os.RemoveAll(dst) // only the partial copy this call made
		return fmt.Errorf("copy %s aside: %v: %s", path, err, strings.TrimSpace(string(out)))
	}
	return os.RemoveAll(path)
}

// WriteFileIDs is WriteFile with numeric owner ids (keeping an edited file's
// owner); label names the owner in errors.
func WriteFileIDs(path string, content []byte, mode os.FileMode, uid, gid int, label string) error {
	if err := atomicfile.WriteOwned(path, content, mode, uid, gid); err != nil {
		return fmt.Errorf("%s (%s): %w", path, label, err)
	}
	return nil
}

// SyncFS flushes the file systems holding paths to disk (syncfs(2)), once
// each: what a program wrote without fsync is then as durable as if it had.
func SyncFS(paths ...string) error {
	seen := map[uint64]bool{}
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
		if seen[st.Dev] {
			continue
		}
		seen[st.Dev] = true
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
		err = unix.Syncfs(fd)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("sync the file system of %s: %w", p, err)
		}
	}
	return nil
}
