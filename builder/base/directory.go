package base

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"xroad-appliance/builder/cache"
	"xroad-appliance/builder/rootfs"
)

// directory is a base copied from a root directory prepared elsewhere.
type directory struct {
	dir string
}

// key fingerprints the tree by every entry's path, type, mode, owner, size,
// modification time and link target: a changed file changes the key without
// reading every file's content.
func (d *directory) key(ctx context.Context) (string, string, error) {
	h := cache.NewHasher("rootfs-tree")
	err := filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat information", p)
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(d.dir, p)
		h.AddString(rel, fmt.Sprintf("%v %d:%d %d %d %d %s", fi.Mode(), st.Uid, st.Gid, fi.Size(), fi.ModTime().UnixNano(), st.Rdev, link))
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("rootfs %s: %w", d.dir, err)
	}
	sum := h.Sum()
	return "tree " + sum, "rootfs tree " + sum, nil
}

func (d *directory) fill(ctx context.Context, root, _ string) error {
	return rootfs.Copy(ctx, d.dir, root)
}
