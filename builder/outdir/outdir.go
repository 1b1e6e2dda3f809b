// Package outdir writes a whole output directory or nothing: outputs are
// staged beside it and renamed into place, and an occupied directory is moved
// aside, never deleted (it may hold files this program did not write).
package outdir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ErrNotEmpty is an output directory that holds something when the caller
// did not ask for it to be moved aside (--force) or extended.
var ErrNotEmpty = errors.New("output directory is not empty")

// State is what an output directory holds before a write.
type State int

const (
	Absent State = iota
	Empty
	Occupied
)

// Inspect tells whether dir is absent, empty or occupied.
func Inspect(dir string) (State, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return Absent, nil
	}
	if err != nil {
		return 0, err
	}
	// A symlink or file would be replaced by the rename, not filled.
	if !fi.IsDir() {
		return 0, fmt.Errorf("%s exists and is not a directory", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); errors.Is(err, io.EOF) {
		return Empty, nil
	} else if err != nil {
		return 0, err
	}
	return Occupied, nil
}

// Stage writes into a fresh directory with mode beside out (same file
// system, so the final rename is atomic) and removes it again on failure.
func Stage(out string, mode os.FileMode, write func(dir string) error) (string, error) {
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, mode); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return "", errors.Join(err, os.RemoveAll(tmp))
	}
	if err := write(tmp); err != nil {
		// tmp is ours alone: MkdirTemp made it.
		return "", errors.Join(err, os.RemoveAll(tmp))
	}
	return tmp, nil
}

// SwapIn renames the staged directory to out. An occupied out is moved aside
// to out.old-TIMESTAMP first; an empty one is removed (os.Remove only removes
// empty directories, so a racing writer cannot lose files).
func SwapIn(staging, out string, state State, now time.Time) (previous string, err error) {
	switch state {
	case Empty:
		if err := os.Remove(out); err != nil {
			return "", errors.Join(err, os.RemoveAll(staging))
		}
	case Occupied:
		stamp := now.UTC().Format("20060102T150405Z")
		previous = out + ".old-" + stamp
		for i := 2; Exists(previous); i++ {
			previous = out + ".old-" + stamp + "-" + strconv.Itoa(i)
		}
		if err := os.Rename(out, previous); err != nil {
			return "", errors.Join(err, os.RemoveAll(staging))
		}
	}
	if err := os.Rename(staging, out); err != nil {
		if previous != "" {
			err = errors.Join(err, os.Rename(previous, out))
		}
		return "", errors.Join(err, os.RemoveAll(staging))
	}
	return previous, nil
}

// Exists reports whether p exists (a dangling symlink counts).
func Exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
