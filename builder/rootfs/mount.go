// Package rootfs works on root file systems being built: the mounts a chroot
// step needs (overlayfs, proc, tmpfs, binds), undone in reverse order even
// when the step fails; reading files through the image's own symlinks; and
// removing the machine identity a bootstrap leaves behind.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Mounts records the mounts made for one step so that Close undoes them.
type Mounts struct {
	points []string
}

// Overlay mounts an overlayfs at target with lower layers given top first.
// With upper "" the mount is read-only. Features that would record renames
// or metadata-only copies in the upper directory are off, so the upper
// directory is a plain diff: new and changed files, whiteouts, opaque dirs.
func (m *Mounts) Overlay(target string, lower []string, upper, work string) error {
	for _, p := range append([]string{target, upper, work}, lower...) {
		if strings.ContainsAny(p, ",:") {
			return fmt.Errorf("overlay: path %q contains ',' or ':', which overlayfs options cannot hold", p)
		}
	}
	opts := "lowerdir=" + strings.Join(lower, ":")
	var flags uintptr
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + work + ",redirect_dir=off,metacopy=off,index=off,xino=off"
	} else {
		flags = unix.MS_RDONLY
	}
	return m.mount("overlay", target, "overlay", flags, opts)
}

// Proc mounts a proc file system at target.
func (m *Mounts) Proc(target string) error {
	return m.mount("proc", target, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// Tmpfs mounts an empty tmpfs with mode (0755 for /run, 01777 for /tmp) at target.
func (m *Mounts) Tmpfs(target string, mode os.FileMode) error {
	return m.mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=%04o", uint32(mode.Perm())|sticky(mode)))
}

func sticky(mode os.FileMode) uint32 {
	if mode&os.ModeSticky != 0 {
		return 0o1000
	}
	return 0
}

// Bind bind-mounts src at target, read-only if asked.
func (m *Mounts) Bind(src, target string, readOnly bool) error {
	if err := m.mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	if !readOnly {
		return nil
	}
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("remount %s read-only: %w", target, err)
	}
	return nil
}

func (m *Mounts) mount(src, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(src, target, fstype, flags, data); err != nil {
		what := fstype
		if what == "" {
			what = "bind " + src
		}
		return fmt.Errorf("mount %s on %s: %w", what, target, err)
	}
	m.points = append(m.points, target)
	return nil
}

// Close unmounts everything in reverse order. A busy mount is detached
// (MNT_DETACH) rather than left behind.
func (m *Mounts) Close() error {
	var errs []error
	for i := len(m.points) - 1; i >= 0; i-- {
		p := m.points[i]
		if err := unix.Unmount(p, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
			}
		}
	}
	m.points = nil
	return errors.Join(errs...)
}

// MkdirFor creates target (a mount point) if it is missing.
func MkdirFor(target string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("mount point %s: %w", target, err)
	}
	return nil
}
