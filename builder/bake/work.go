package bake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
	"xroad-appliance/builder/rootfs"

	"xroad-appliance/builder/cache"
)

// workspace is a build's scratch directory and the overlay mounts in it.
type workspace struct {
	cacheRoot string
	dir       string
	release   func() error
	mounts    rootfs.Mounts
}

// openWorkspace resolves the cache root (root, or cache.Root() when "")
// and makes the build's work directory in it, after checking that overlay
// mounts work there.
func openWorkspace(ctx context.Context, root string) (*workspace, error) {
	cacheRoot, err := cache.ResolveRoot(root)
	if err != nil {
		return nil, err
	}
	dir, release, err := workDir(ctx, cacheRoot)
	if err != nil {
		return nil, err
	}
	ws := &workspace{cacheRoot: cacheRoot, dir: dir, release: release}
	if err := probeOverlay(dir); err != nil {
		return nil, errors.Join(err, ws.close())
	}
	return ws, nil
}

// mkdir makes the directory name in the workspace.
func (ws *workspace) mkdir(name string) (string, error) {
	dir := filepath.Join(ws.dir, name)
	return dir, os.Mkdir(dir, 0o755)
}

// overlay mounts lower (the first on top) read-only at the new directory
// name in the workspace and returns its path.
func (ws *workspace) overlay(name string, lower ...string) (string, error) {
	dir, err := ws.mkdir(name)
	if err != nil {
		return "", err
	}
	return dir, ws.mounts.Overlay(dir, lower, "", "")
}

// close unmounts what the build mounted and removes the work directory.
func (ws *workspace) close() error {
	return errors.Join(ws.mounts.Close(), ws.release())
}

// workDir makes this build's scratch directory under cacheRoot/work, on the
// cache's file system: overlayfs wants its layers on one file system, and
// renames stay cheap. The build holds DIR.lock while it runs; directories of
// builds that died (killed, power lost) are removed first, mounts included.
func workDir(ctx context.Context, cacheRoot string) (dir string, release func() error, err error) {
	parent := filepath.Join(cacheRoot, "work")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", nil, err
	}
	if err := removeStaleWork(parent); err != nil {
		return "", nil, err
	}
	dir = filepath.Join(parent, time.Now().UTC().Format("20060102T150405")+"-"+cache.RandomSuffix())
	unlock, err := cache.Lock(ctx, dir+".lock")
	if err != nil {
		return "", nil, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		unlock()
		return "", nil, err
	}
	return dir, func() error {
		err := cache.RemoveTree(dir)
		if err == nil {
			err = os.Remove(dir + ".lock")
		}
		unlock()
		return err
	}, nil
}

// removeStaleWork removes work directories whose build no longer holds
// their lock.
func removeStaleWork(parent string) error {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		unlock, ok, err := cache.TryLock(dir + ".lock")
		if err != nil || !ok {
			continue // a live build's, or not ours to judge
		}
		slog.Info("build: removing the work directory of a build that died", "dir", dir)
		err = cache.RemoveTree(dir)
		if err == nil {
			err = os.Remove(dir + ".lock")
		}
		unlock()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("stale work directory %s: %w", dir, err)
		}
	}
	return nil
}

// probeOverlay mounts and unmounts a small overlayfs in work, the way the
// package layer's chroot does, so that a runner without it (an
// unprivileged container, a cache on a file system overlayfs cannot use as
// its upper layer) is told so before anything is fetched.
func probeOverlay(work string) error {
	dir := filepath.Join(work, "overlay-probe")
	var dirs []string
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		dirs = append(dirs, filepath.Join(dir, d))
		if err := os.MkdirAll(dirs[len(dirs)-1], 0o755); err != nil {
			return err
		}
	}
	var m rootfs.Mounts
	err := m.Overlay(dirs[3], []string{dirs[0]}, dirs[1], dirs[2])
	err = errors.Join(err, m.Close())
	if err != nil {
		return fmt.Errorf("building an image needs overlayfs mounts with an upper directory in the cache %s: %w "+
			"(the runner must give root with CAP_SYS_ADMIN and the kernel's overlay module: a container runs --privileged; "+
			"the cache must be on ext4, xfs, btrfs or tmpfs, not on overlayfs: set --cache or $XROAD_IMAGE_CACHE)", work, err)
	}
	return os.RemoveAll(dir)
}
