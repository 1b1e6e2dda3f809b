package base

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"xroad-appliance/builder/run"
)

// trim removes what a base must not carry into images: downloaded packages
// and package lists (stale the day after, and tens of MB). Whoever installs
// more packages on top runs apt-get update first; installing the X-Road
// packages from a local repository needs only that repository's list.
func trim(ctx context.Context, rootfs string) error {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"}
	if err := (run.Cmd{Env: env}).Run(ctx, "chroot", rootfs, "apt-get", "clean"); err != nil {
		return fmt.Errorf("trim base: %w", err)
	}
	lists := filepath.Join(rootfs, "var/lib/apt/lists")
	entries, err := os.ReadDir(lists)
	if err != nil {
		return fmt.Errorf("trim base: %w", err)
	}
	for _, e := range entries {
		if e.Name() == "partial" || e.Name() == "lock" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(lists, e.Name())); err != nil {
			return fmt.Errorf("trim base: %w", err)
		}
	}
	return nil
}
