package base

import (
	"context"
	"fmt"
	"os"

	"xroad-appliance/test/internal/run"
)

// Copy copies the rootfs src into dst (created if missing), keeping owners,
// modes, links, device nodes and extended attributes; on file systems that
// share blocks (btrfs, xfs) the copy is a cheap reflink.
func Copy(ctx context.Context, src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := (run.Cmd{}).Run(ctx, "cp", "-a", "--reflink=auto", src+"/.", dst); err != nil {
		return fmt.Errorf("copy rootfs %s: %w", src, err)
	}
	return nil
}
