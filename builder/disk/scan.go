package disk

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// tree is what one walk of the rootfs tells: what the ext4 file system needs
// to hold it, every path with its mtime (the timestamps are normalised after
// mkfs.ext4), and a fingerprint of the metadata that the disk's identifiers
// are derived from.
type tree struct {
	entries     []treeEntry // in walk (lexical) order, "/" first
	dataBytes   int64       // file, directory and symlink blocks
	inodes      int64
	fingerprint [sha256.Size]byte
}

type treeEntry struct {
	path  string // absolute inside the rootfs: "/etc/fstab"
	mtime int64
	dir   bool
}

// lookup returns the entry for path.
func (t *tree) lookup(path string) (treeEntry, bool) {
	for _, e := range t.entries {
		if e.path == path {
			return e, true
		}
	}
	return treeEntry{}, false
}

// scanTree walks root without following symlinks. Contents are not read:
// the fingerprint covers names, types, modes, owners, sizes, mtimes, link
// targets and device numbers, which is enough to tell two images apart.
func scanTree(root string) (*tree, error) {
	t := &tree{}
	h := sha256.New()
	seen := map[[2]uint64]bool{} // hard links are stored once
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := "/" + filepath.ToSlash(rel)
		if rel == "." {
			name = "/"
		}
		// debugfs takes one command per line, so it cannot name such a file.
		if strings.ContainsAny(name, "\n\r") {
			return fmt.Errorf("file name with a line break: %q", name)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat data", p)
		}
		var target string
		switch mode := info.Mode(); {
		case mode.IsRegular():
			key := [2]uint64{st.Dev, st.Ino}
			if st.Nlink < 2 || !seen[key] {
				seen[key] = true
				t.dataBytes += roundUp(info.Size(), ext4BlockSize)
			}
		case mode.IsDir():
			t.dataBytes += ext4BlockSize
		case mode&fs.ModeSymlink != 0:
			if target, err = os.Readlink(p); err != nil {
				return err
			}
			if len(target) >= 60 { // shorter targets live in the inode
				t.dataBytes += ext4BlockSize
			}
		}
		// Each directory entry: 8 bytes plus the name, 4-byte aligned.
		t.dataBytes += 8 + roundUp(int64(len(d.Name())), 4)
		t.inodes++
		t.entries = append(t.entries, treeEntry{path: name, mtime: st.Mtim.Sec, dir: d.IsDir()})
		fmt.Fprintf(h, "%q %o %d %d %d %d.%09d %q %d\n", name, st.Mode, st.Uid, st.Gid,
			info.Size(), st.Mtim.Sec, st.Mtim.Nsec, target, st.Rdev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("disk: rootfs %s: %w", root, err)
	}
	h.Sum(t.fingerprint[:0])
	return t, nil
}
