// Package layer turns directory trees into reproducible image layers and back:
// tar streams with sorted entries, clamped modification times and numeric
// owners; overlayfs upper directories as OCI diffs with whiteouts; gzip blobs
// kept in the cache with their digests; and safe extraction of a flattened
// image into a directory.
package layer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// OCI whiteout names (image-spec layer.md).
const (
	WhiteoutPrefix = ".wh."
	OpaqueWhiteout = ".wh..wh..opq"
)

// Options shape a tar stream.
type Options struct {
	// Epoch clamps modification times: no entry is newer than it, so files
	// the build itself made carry the epoch and packaged files keep theirs.
	Epoch time.Time
	// Overlay reads dir as an overlayfs upper directory: 0/0 character
	// devices become OCI whiteout files and opaque directories get an opaque
	// marker.
	Overlay bool
	// RootOwned writes every entry as owned by 0:0, for trees the build
	// writes as whatever user runs it.
	RootOwned bool
}

// WriteTar writes the tree under dir to w as a tar stream. Entries come in
// lexical order with parents first; hard links within the tree become link
// entries; atime, ctime and user names are left out; security.capability and
// user.* extended attributes are kept.
func WriteTar(ctx context.Context, w io.Writer, dir string, opts Options) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{}
	buf := make([]byte, 1<<20)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		name := filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat information", p)
		}
		hdr := &tar.Header{
			Name:    name,
			Mode:    tarMode(fi.Mode()),
			Uid:     int(st.Uid),
			Gid:     int(st.Gid),
			ModTime: clamp(fi.ModTime(), opts.Epoch),
		}
		if opts.RootOwned {
			hdr.Uid, hdr.Gid = 0, 0
		}
		var content string // path of the file's bytes, if any
		switch mode := fi.Mode(); {
		case mode.IsRegular():
			hdr.Typeflag = tar.TypeReg
			if st.Nlink > 1 {
				key := [2]uint64{st.Dev, st.Ino}
				if first, seen := links[key]; seen {
					hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
					break
				}
				links[key] = name
			}
			hdr.Size = fi.Size()
			content = p
		case mode.IsDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case mode&fs.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			if hdr.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
		case mode&fs.ModeCharDevice != 0 && opts.Overlay && st.Rdev == 0:
			return writeWhiteout(tw, name, opts.Epoch)
		case mode&fs.ModeDevice != 0:
			hdr.Typeflag = tar.TypeBlock
			if mode&fs.ModeCharDevice != 0 {
				hdr.Typeflag = tar.TypeChar
			}
			hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case mode&fs.ModeNamedPipe != 0:
			hdr.Typeflag = tar.TypeFifo
		default:
			return nil // sockets belong to running processes, not to images
		}
		if err := addXattrs(hdr, p); err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if content != "" {
			head, err := pycHeader(p, hdr.Size, opts.Epoch)
			if err != nil {
				return err
			}
			if err := copyFile(tw, content, hdr.Size, head, buf); err != nil {
				return err
			}
		}
		if hdr.Typeflag == tar.TypeDir && opts.Overlay && isOpaque(p) {
			return writeWhiteout(tw, name+"/"+OpaqueWhiteout[len(WhiteoutPrefix):], opts.Epoch)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("layer from %s: %w", dir, err)
	}
	return tw.Close()
}

// writeWhiteout writes the OCI whiteout for name (a path in the layer).
func writeWhiteout(tw *tar.Writer, name string, epoch time.Time) error {
	dir, base := filepath.Split(name)
	return tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     dir + WhiteoutPrefix + base,
		Mode:     0o644,
		ModTime:  epoch,
	})
}

// copyFile writes size bytes of the file at path, its first len(head)
// bytes replaced by head.
func copyFile(w io.Writer, path string, size int64, head, buf []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var n int64
	if len(head) > 0 {
		if _, err := f.Seek(int64(len(head)), io.SeekStart); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if _, err := w.Write(head); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		n = int64(len(head))
	}
	m, err := io.CopyBuffer(w, io.LimitReader(f, size-n), buf)
	n += m
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if n != size {
		return fmt.Errorf("%s: changed while being read (%d of %d bytes)", path, n, size)
	}
	return nil
}

// tarMode is the tar header mode: permissions plus setuid, setgid and sticky.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

func clamp(t, epoch time.Time) time.Time {
	t = t.Truncate(time.Second)
	if !epoch.IsZero() && t.After(epoch) {
		return epoch.UTC()
	}
	return t.UTC()
}

// keptXattr reports whether an extended attribute belongs in an image:
// file capabilities (ping) and user attributes do; overlayfs bookkeeping and
// the build host's SELinux labels do not.
func keptXattr(name string) bool {
	return name == "security.capability" || strings.HasPrefix(name, "user.")
}

func addXattrs(hdr *tar.Header, path string) error {
	names, err := listXattrs(path)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !keptXattr(n) {
			continue
		}
		v, err := getXattr(path, n)
		if err != nil {
			return err
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+n] = string(v)
	}
	return nil
}

func listXattrs(path string) ([]string, error) {
	sz, err := unix.Llistxattr(path, nil)
	if err != nil || sz == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		return nil, err
	}
	buf := make([]byte, sz)
	if sz, err = unix.Llistxattr(path, buf); err != nil {
		return nil, fmt.Errorf("%s: list xattrs: %w", path, err)
	}
	var names []string
	for _, n := range strings.Split(string(buf[:sz]), "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

func getXattr(path, name string) ([]byte, error) {
	sz, err := unix.Lgetxattr(path, name, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: xattr %s: %w", path, name, err)
	}
	buf := make([]byte, sz)
	if sz, err = unix.Lgetxattr(path, name, buf); err != nil {
		return nil, fmt.Errorf("%s: xattr %s: %w", path, name, err)
	}
	return buf[:sz], nil
}

// isOpaque reports whether overlayfs marked the upper directory opaque: it
// hides everything below it in the lower layers.
func isOpaque(path string) bool {
	v, err := getXattr(path, "trusted.overlay.opaque")
	return err == nil && string(v) == "y"
}
