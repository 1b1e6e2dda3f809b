// Package atomicfile writes files so that a crash or a power cut leaves the
// old content or the new one, never half of one, and so that a write that
// returned survives: the data is synced before the rename, and the directory
// after it (a rename is only durable once its directory is).
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write replaces path with data and mode; the directory must exist.
func Write(path string, data []byte, mode os.FileMode) error {
	return WriteOwned(path, data, mode, -1, -1)
}

// WriteOwned is Write with an owner; -1 keeps the writer's id.
func WriteOwned(path string, data []byte, mode os.FileMode, uid, gid int) error {
	return write(path, mode, uid, gid, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Copy replaces dst with the content of src and mode.
func Copy(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return write(dst, mode, -1, -1, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

func write(path string, mode os.FileMode, uid, gid int, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // only when the rename did not happen
	steps := []func() error{
		func() error { return fill(tmp) },
		// Chmod after creating beats the umask, so modes are the same everywhere.
		func() error { return tmp.Chmod(mode) },
		func() error {
			if uid < 0 && gid < 0 {
				return nil
			}
			return tmp.Chown(uid, gid)
		},
		tmp.Sync,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			tmp.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes the entries of dir (a rename, a link, a new file) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Create writes data to a new file with exactly mode (chmod beats the
// umask), synced; an existing file is an error wrapping fs.ErrExist and is
// left alone. A failed write leaves no partial file behind.
func Create(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		os.Remove(path)
	}
	return err
}
