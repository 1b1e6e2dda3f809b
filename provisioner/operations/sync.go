package operations

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"xroad-appliance/provisioner/system"
	"xroad-appliance/units"
)

// syncUnit is the sync service's unit name.
var syncUnit = filepath.Base(units.SyncServicePath)

// SyncPause writes the sync-disabled flag as the xroad user (guide 7.2.1),
// which xroad-sync.service honours before every run.
func (n *Node) SyncPause(ctx context.Context) error {
	if err := n.secondaryOnly("sync pause"); err != nil {
		return err
	}
	flag := units.SyncDisabledFlag
	if exists(flag) {
		n.say("configuration sync already paused (%s exists)", flag)
		return nil
	}
	for _, args := range [][]string{{"mkdir", "-p", filepath.Dir(flag)}, {"touch", flag}} {
		if _, err := system.Run(ctx, system.Cmd{User: "xroad", Args: args}); err != nil {
			return fmt.Errorf("sync pause: %w", err)
		}
	}
	n.say("configuration sync paused: %s written as xroad", flag)
	return nil
}

// SyncResume removes the sync-disabled flag (guide 7.2.3 step 5).
func (n *Node) SyncResume(ctx context.Context) error {
	if err := n.secondaryOnly("sync resume"); err != nil {
		return err
	}
	flag := units.SyncDisabledFlag
	if !exists(flag) {
		n.say("configuration sync is not paused (no %s)", flag)
		return nil
	}
	if err := os.Remove(flag); err != nil {
		return fmt.Errorf("sync resume: %w", err)
	}
	n.say("configuration sync resumed: %s removed", flag)
	return nil
}

// SyncNow runs xroad-sync.service once and waits for it (guide 7.2.3 step 6).
func (n *Node) SyncNow(ctx context.Context) error {
	if err := n.secondaryOnly("sync now"); err != nil {
		return err
	}
	if exists(units.SyncDisabledFlag) {
		return refuse("sync now: configuration sync is paused (%s); run `xroad-node sync resume` first", units.SyncDisabledFlag)
	}
	if err := n.Systemd.Start(ctx, syncUnit); err != nil {
		return fmt.Errorf("sync now: %w", err)
	}
	n.say("configuration synced from %s (%s ran; log %s)", n.Doc.Primary.Address, syncUnit, units.SyncLog)
	return nil
}
