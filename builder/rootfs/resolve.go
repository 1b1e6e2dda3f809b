package rootfs

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"xroad-appliance/builder/run"
)

// maxLinks bounds symlink resolution, as the kernel's ELOOP does.
const maxLinks = 40

// Resolve returns the host path of p (an absolute path inside the image)
// with every symlink resolved as the image would resolve it: absolute link
// targets start again at root, and ".." never climbs above it. Debian's /lib
// is a link to usr/lib, for example.
func Resolve(root, p string) (string, error) {
	rest := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	var done []string
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		host := filepath.Join(root, filepath.Join(append(done, c)...))
		fi, err := os.Lstat(host)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			done = append(done, c) // missing components resolve to themselves
			continue
		}
		if links++; links > maxLinks {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(host)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			done = nil
		}
		rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
	}
	return filepath.Join(root, filepath.Join(done...)), nil
}

// ReadFile reads p inside the image at root, following the image's symlinks.
func ReadFile(root, p string) ([]byte, error) {
	host, err := Resolve(root, p)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(host)
}

// Copy copies the tree src into dst (created if missing), keeping owners,
// modes, links, device nodes and extended attributes; on file systems that
// share blocks (btrfs, xfs) the copy is a cheap reflink.
func Copy(ctx context.Context, src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := (run.Cmd{}).Run(ctx, "cp", "-a", "--reflink=auto", src+"/.", dst); err != nil {
		return fmt.Errorf("copy root file system %s: %w", src, err)
	}
	return nil
}

// WriteFile writes a file at its image path under root, through the
// image's own symlinks.
func WriteFile(root, path string, data []byte, mode os.FileMode) error {
	p, err := Resolve(root, path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}
