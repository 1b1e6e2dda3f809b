package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// RemovePerInstall removes from the image at root what one install made for
// one machine: every file or symlink matching a pattern of remove (absolute
// image paths, globs in the last element only), and the content of every
// file of empty (kept as an empty file, as systemd wants /etc/machine-id).
// Directories along a pattern are the image's, followed through its links.
// It returns the image paths it changed, sorted. A pattern matching a
// directory is an error: per-install material is files.
func RemovePerInstall(root string, remove, empty []string) ([]string, error) {
	var changed []string
	for _, pat := range remove {
		dir, err := Resolve(root, path.Dir(pat))
		if err != nil {
			return nil, fmt.Errorf("per-install %s: %w", pat, err)
		}
		matches, err := filepath.Glob(filepath.Join(dir, path.Base(pat)))
		if err != nil {
			return nil, fmt.Errorf("per-install %s: %w", pat, err)
		}
		for _, m := range matches {
			fi, err := os.Lstat(m)
			if err != nil {
				return nil, fmt.Errorf("per-install %s: %w", pat, err)
			}
			image := path.Join(path.Dir(pat), filepath.Base(m))
			if fi.IsDir() {
				return nil, fmt.Errorf("per-install %s: %s is a directory", pat, image)
			}
			if err := os.Remove(m); err != nil {
				return nil, fmt.Errorf("per-install %s: %w", pat, err)
			}
			changed = append(changed, image)
		}
	}
	for _, p := range empty {
		host, err := Resolve(root, p)
		if err != nil {
			return nil, fmt.Errorf("per-install %s: %w", p, err)
		}
		fi, err := os.Lstat(host)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("per-install %s: %w", p, err)
		}
		if !fi.Mode().IsRegular() || fi.Size() == 0 {
			continue
		}
		if err := os.Truncate(host, 0); err != nil {
			return nil, fmt.Errorf("per-install %s: %w", p, err)
		}
		changed = append(changed, p)
	}
	slices.Sort(changed)
	return slices.Compact(changed), nil
}
