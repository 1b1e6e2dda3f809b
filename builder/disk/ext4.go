package disk

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// mke2fsConf pins the ext4 features and geometry (Debian 12's defaults),
// so that the build host's /etc/mke2fs.conf cannot change the bytes.
const mke2fsConf = `[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	enable_periodic_fsck = 0
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384
	reserved_ratio = 5.0

[fs_types]
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
`

// overlayFile is a file the image gets that the rootfs directory does not
// have (or has differently), written into the file system after mkfs.ext4
// so that the input directory is never touched.
type overlayFile struct {
	Path     string
	Contents []byte
	Mode     os.FileMode
}

// writeRootFS creates the ext4 root file system from the rootfs directory
// inside the image's root partition, applies the overlay and normalises
// every inode's timestamps. Reproducibility comes from the fixed UUID and
// hash seed, E2FSPROGS_FAKE_TIME for everything e2fsprogs stamps itself,
// mkfs.ext4's sorted directory walk, and the timestamp pass: mkfs.ext4 -d
// copies atime and ctime from the directory, and no one can set a ctime.
func writeRootFS(ctx context.Context, image, rootfs, work string, l layout, id ids, t *tree,
	overlayDirs []string, overlay []overlayFile, sourceDateEpoch int64) error {
	conf := filepath.Join(work, "mke2fs.conf")
	if err := os.WriteFile(conf, []byte(mke2fsConf), 0o600); err != nil {
		return fmt.Errorf("root file system: %w", err)
	}
	env := []string{
		"MKE2FS_CONFIG=" + conf,
		"E2FSPROGS_FAKE_TIME=" + strconv.FormatInt(sourceDateEpoch, 10),
	}
	if _, _, err := command(ctx, env, "mkfs.ext4", "-q", "-F", "-T", "ext4",
		"-L", "root",
		"-U", id.RootFS,
		"-b", strconv.Itoa(ext4BlockSize),
		"-N", strconv.FormatInt(l.RootInodes, 10),
		"-J", "size="+strconv.FormatInt(l.JournalSize/mib, 10),
		// The image file is fresh and sparse: nothing to discard or zero.
		"-E", fmt.Sprintf("offset=%d,hash_seed=%s,nodiscard,assume_storage_prezeroed=1", l.RootStart, id.HashSeed),
		"-d", rootfs,
		image, strconv.FormatInt(l.RootSize/ext4BlockSize, 10),
	); err != nil {
		return fmt.Errorf("root file system from %s (%d MiB of contents in a %d MiB partition): %w",
			rootfs, t.dataBytes/mib, l.RootSize/mib, err)
	}

	script, err := debugfsScript(work, t, overlayDirs, overlay, sourceDateEpoch)
	if err != nil {
		return fmt.Errorf("root file system: %w", err)
	}
	cmds := filepath.Join(work, "debugfs.cmds")
	if err := os.WriteFile(cmds, script, 0o600); err != nil {
		return fmt.Errorf("root file system: %w", err)
	}
	target := fmt.Sprintf("%s?offset=%d", image, l.RootStart)
	_, stderr, err := command(ctx, env[1:], "debugfs", "-w", "-f", cmds, target)
	if err != nil {
		return fmt.Errorf("root file system in %s: %w", image, err)
	}
	// debugfs exits 0 when a command fails; its errors go to stderr, after
	// the version banner.
	if msg := debugfsErrors(stderr); msg != "" {
		return fmt.Errorf("root file system in %s: debugfs: %s", image, msg)
	}
	return nil
}

// debugfsScript adds the overlay (directories made, files replaced, all
// owned by root) and then sets every inode's atime and ctime to the source
// date and clamps its mtime to it.
func debugfsScript(work string, t *tree, overlayDirs []string, overlay []overlayFile, sourceDateEpoch int64) ([]byte, error) {
	var b bytes.Buffer
	sif := func(p, field string, value any) { fmt.Fprintf(&b, "sif %s %s %v\n", quote(p), field, value) }
	at := "@" + strconv.FormatInt(sourceDateEpoch, 10)
	times := func(p string, mtime int64) {
		sif(p, "atime", at)
		sif(p, "ctime", at)
		if mtime > sourceDateEpoch || mtime < 0 {
			sif(p, "mtime", at)
		}
	}
	added := func(p string, mode os.FileMode) {
		sif(p, "mode", fmt.Sprintf("0%o", mode))
		sif(p, "uid", 0)
		sif(p, "gid", 0)
		sif(p, "mtime", at)
		times(p, sourceDateEpoch)
	}
	for _, dir := range overlayDirs {
		if e, ok := t.lookup(dir); ok {
			if !e.dir {
				return nil, fmt.Errorf("%s in the rootfs is not a directory", dir)
			}
			continue
		}
		fmt.Fprintf(&b, "mkdir %s\n", quote(dir))
		added(dir, 0o040755)
	}
	for i, f := range overlay {
		if e, ok := t.lookup(f.Path); ok {
			if e.dir {
				return nil, fmt.Errorf("%s in the rootfs is a directory", f.Path)
			}
			fmt.Fprintf(&b, "rm %s\n", quote(f.Path))
		}
		src := filepath.Join(work, "overlay-"+strconv.Itoa(i))
		if err := os.WriteFile(src, f.Contents, 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "write %s %s\n", quote(src), quote(f.Path))
		added(f.Path, 0o100000|f.Mode.Perm())
	}
	for _, e := range t.entries {
		times(e.path, e.mtime)
	}
	return b.Bytes(), nil
}

// quote makes p one debugfs argument: double quotes, with an embedded
// quote doubled.
func quote(p string) string {
	return `"` + strings.ReplaceAll(path.Clean(p), `"`, `""`) + `"`
}

func debugfsErrors(stderr []byte) string {
	var msgs []string
	for _, line := range strings.Split(string(stderr), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "debugfs ") {
			msgs = append(msgs, line)
		}
	}
	if len(msgs) > 5 {
		msgs = append(msgs[:5], fmt.Sprintf("and %d more", len(msgs)-5))
	}
	return strings.Join(msgs, "; ")
}
