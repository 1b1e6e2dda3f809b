package layer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Extract writes a flattened tar stream (mutate.Extract of an image) into
// dir, which must exist. Every path is resolved inside dir (os.Root), so a
// hostile image cannot write outside it through ".." or symlinks. Owners,
// modes, device nodes, kept extended attributes and modification times are
// restored; hard links are made once their targets exist.
func Extract(ctx context.Context, r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	x := &extractor{root: root}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("extract %s: %w", hdr.Name, err)
		}
	}
	return x.finish()
}

type extractor struct {
	root  *os.Root
	dirs  []*tar.Header // metadata applied last: creating children changes it
	links []*tar.Header // made last: the stream may name a link before its target
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name := path.Clean(strings.TrimPrefix(hdr.Name, "/"))
	if name == "." {
		hdr.Name = "."
		x.dirs = append(x.dirs, hdr)
		return nil
	}
	if name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("path leaves the root")
	}
	if strings.HasPrefix(path.Base(name), WhiteoutPrefix) {
		return nil // a flattened stream has none; never create one as a file
	}
	hdr.Name = name
	if dir := path.Dir(name); dir != "." {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if fi, err := x.root.Lstat(name); err == nil && fi.IsDir() {
			// made implicitly for an earlier child
		} else {
			if err == nil {
				if err := x.root.RemoveAll(name); err != nil {
					return err
				}
			}
			if err := x.root.Mkdir(name, 0o700); err != nil {
				return err
			}
		}
		x.dirs = append(x.dirs, hdr)
		return nil
	case tar.TypeLink:
		x.links = append(x.links, hdr)
		return nil
	}
	if err := x.root.RemoveAll(name); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		return x.file(hdr, r)
	case tar.TypeSymlink:
		if err := x.root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		return x.root.Lchown(name, hdr.Uid, hdr.Gid)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return x.node(hdr)
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
}

func (x *extractor) file(hdr *tar.Header, r io.Reader) error {
	f, err := x.root.OpenFile(hdr.Name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = x.meta(f, hdr)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return x.root.Chtimes(hdr.Name, hdr.ModTime, hdr.ModTime)
}

// meta sets owner, then mode (chown clears setuid), then extended attributes.
func (x *extractor) meta(f *os.File, hdr *tar.Header) error {
	if err := f.Chown(hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	if err := f.Chmod(hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return err
	}
	for k, v := range hdr.PAXRecords {
		n, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || !keptXattr(n) {
			continue
		}
		if err := unix.Fsetxattr(int(f.Fd()), n, []byte(v), 0); err != nil {
			return fmt.Errorf("xattr %s: %w", n, err)
		}
	}
	return nil
}

// node makes a device node or FIFO relative to its parent's descriptor.
func (x *extractor) node(hdr *tar.Header) error {
	parent, err := x.root.Open(path.Dir(hdr.Name))
	if err != nil {
		return err
	}
	defer parent.Close()
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	base := path.Base(hdr.Name)
	fd := int(parent.Fd())
	if err := unix.Mknodat(fd, base, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
		return err
	}
	if err := unix.Fchownat(fd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	return unix.UtimesNanoAt(fd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func (x *extractor) finish() error {
	for _, hdr := range x.links {
		target := path.Clean(strings.TrimPrefix(hdr.Linkname, "/"))
		if err := x.root.RemoveAll(hdr.Name); err != nil {
			return err
		}
		if err := x.root.Link(target, hdr.Name); err != nil {
			return fmt.Errorf("extract %s: link to %s: %w", hdr.Name, target, err)
		}
	}
	// Deepest first, so that setting a parent's mtime comes after its children.
	slices.SortStableFunc(x.dirs, func(a, b *tar.Header) int {
		return strings.Count(b.Name, "/") - strings.Count(a.Name, "/")
	})
	for _, hdr := range x.dirs {
		d, err := x.root.Open(hdr.Name)
		if err != nil {
			return err
		}
		err = x.meta(d, hdr)
		d.Close()
		if err != nil {
			return fmt.Errorf("extract %s: %w", hdr.Name, err)
		}
		if err := x.root.Chtimes(hdr.Name, hdr.ModTime, hdr.ModTime); err != nil {
			return err
		}
	}
	return nil
}
