package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ErrOutExists is returned when the output directory holds something and
// Force was not given.
var ErrOutExists = errors.New("output directory is not empty")

type dirState int

const (
	dirAbsent dirState = iota
	dirEmpty
	dirOccupied
)

func inspectOutDir(dir string) (dirState, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return dirAbsent, nil
	}
	if err != nil {
		return 0, err
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("%s exists and is not a directory", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); errors.Is(err, io.EOF) {
		return dirEmpty, nil
	} else if err != nil {
		return 0, err
	}
	return dirOccupied, nil
}

// stage writes the outputs into a fresh directory beside out (same file
// system, so the final rename is atomic) and removes it again on failure.
func stage(out string, write func(dir string) error) (string, error) {
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", errors.Join(err, os.RemoveAll(tmp))
	}
	if err := write(tmp); err != nil {
		// tmp is ours alone: MkdirTemp made it.
		return "", errors.Join(err, os.RemoveAll(tmp))
	}
	return tmp, nil
}

// swapIn renames the staged outputs to out. An occupied out is moved aside
// first, never deleted; an empty one is removed (os.Remove only removes empty
// directories, so a racing writer cannot lose files).
func swapIn(staging, out string, state dirState, now time.Time) (previous string, err error) {
	switch state {
	case dirEmpty:
		if err := os.Remove(out); err != nil {
			return "", errors.Join(err, os.RemoveAll(staging))
		}
	case dirOccupied:
		stamp := now.UTC().Format("20060102T150405Z")
		previous = out + ".old-" + stamp
		for i := 2; exists(previous); i++ {
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

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
