package operations

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"xroad-appliance/provisioner/retry"
	"xroad-appliance/provisioner/status"
)

// messagePort is the proxy's message port the primary is drained of before
// its services stop (guide 7.2.2 step 2).
const messagePort = 5500

// Waits is how long the upgrade steps wait.
type Waits struct {
	Drain, Replay, Healthy time.Duration
}

// upgradeState records a prepared upgrade, so that finish runs only after
// prepare and knows what to undo.
type upgradeState struct {
	Prepared time.Time `json:"prepared"`
	// Started is when a secondary's turn began (upgrade start): services
	// stopped, replay caught up, ready for the packages.
	Started *time.Time `json:"started,omitempty"`
}

// UpgradePrepare is guide 7.2's first half on this node. On a secondary:
// pause WAL replay and the configuration sync, so that nothing from a
// primary already upgraded reaches it (7.2.1). On the primary: maintenance
// mode on, wait until no connection is established on the message port, then
// stop the X-Road services (7.2.2 steps 1-2).
func (n *Node) UpgradePrepare(ctx context.Context, w Waits) error {
	if st, err := n.readUpgrade(); err == nil {
		return refuse("upgrade prepare: an upgrade was already prepared at %s; run `xroad-node upgrade finish`", st.Prepared.Format(time.RFC3339))
	} else if !os.IsNotExist(err) {
		return err
	}
	// Recorded first: a prepare that fails half-way is finished (undone)
	// by `upgrade finish` like a complete one.
	if err := n.State.WriteRecord(n.State.UpgradeFile(), upgradeState{Prepared: time.Now().UTC()}); err != nil {
		return err
	}
	if !n.isPrimary() {
		if err := n.ReplayPause(ctx); err != nil {
			return err
		}
		if err := n.SyncPause(ctx); err != nil {
			return err
		}
		n.say("prepared: upgrade the primary first; this node's turn then is `xroad-node upgrade start`, its packages, `xroad-node upgrade finish`")
		return nil
	}
	if err := n.quiesce(ctx, w); err != nil {
		return err
	}
	n.say("prepared: replace or upgrade this node, then run `xroad-node upgrade finish`")
	return nil
}

// quiesce takes the node out of the load balancer and stops its X-Road
// services (7.2.2 steps 1-2, 7.2.3 steps 1-2): maintenance mode on, wait
// until no connection is established on the message port, stop.
func (n *Node) quiesce(ctx context.Context, w Waits) error {
	if err := n.Maintenance(ctx, true); err != nil {
		return err
	}
	if err := n.drain(ctx, w.Drain); err != nil {
		return err
	}
	for _, s := range n.Facts.XRoad.Services {
		if err := n.Systemd.Stop(ctx, s+".service"); err != nil {
			return fmt.Errorf("upgrade: %w", err)
		}
	}
	n.say("X-Road services stopped: %s", strings.Join(n.Facts.XRoad.Services, ", "))
	return nil
}

// UpgradeStart begins a secondary's turn, once the primary is upgraded
// (guide 7.2.3 steps 1-3): out of the load balancer, services stopped,
// then WAL replay resumed and caught up, so that the new packages never
// meet a serverconf schema older than the primary's.
func (n *Node) UpgradeStart(ctx context.Context, w Waits) error {
	st, err := n.readUpgrade()
	switch {
	case n.isPrimary():
		return refuse("upgrade start: this is the primary; its turn is `xroad-node upgrade prepare`, then the packages, then `upgrade finish`")
	case os.IsNotExist(err):
		return refuse("upgrade start: no upgrade prepared on this node; run `xroad-node upgrade prepare` before the primary's upgrade")
	case err != nil:
		return err
	case st.Started != nil:
		return refuse("upgrade start: this node's turn began at %s; upgrade its packages, then run `xroad-node upgrade finish`", st.Started.Format(time.RFC3339))
	}
	if err := n.quiesce(ctx, w); err != nil {
		return err
	}
	if err := n.ReplayResume(ctx); err != nil {
		return err
	}
	if err := n.ReplayWait(ctx, w.Replay); err != nil {
		return err
	}
	now := time.Now().UTC()
	st.Started = &now
	if err := n.State.WriteRecord(n.State.UpgradeFile(), st); err != nil {
		return err
	}
	n.say("started: upgrade this node's packages, then run `xroad-node upgrade finish`")
	return nil
}

// UpgradeFinish is guide 7.2's second half. On a secondary, after upgrade
// start and the packages: resume and force the configuration sync (7.2.3
// steps 5, 6). On both: restart the X-Road services and wait for a 200 from
// the health check (7.2.2 step 4, 7.2.3 step 7); the proxy's restart clears
// maintenance mode.
func (n *Node) UpgradeFinish(ctx context.Context, w Waits) error {
	st, err := n.readUpgrade()
	if os.IsNotExist(err) {
		return refuse("upgrade finish: no upgrade prepared on this node; run `xroad-node upgrade prepare` first")
	} else if err != nil {
		return err
	}
	if !n.isPrimary() {
		if st.Started == nil {
			return refuse("upgrade finish: this secondary's turn has not begun; run `xroad-node upgrade start` before its packages are upgraded (guide 7.2.3: services stopped and replay caught up first)")
		}
		steps := []func(context.Context) error{
			n.SyncResume,
			n.SyncNow,
		}
		for _, step := range steps {
			if err := step(ctx); err != nil {
				return err
			}
		}
	}
	for _, s := range n.Facts.XRoad.Services {
		if err := n.Systemd.Restart(ctx, s+".service"); err != nil {
			return fmt.Errorf("upgrade finish: %w", err)
		}
	}
	n.say("X-Road services restarted: %s", strings.Join(n.Facts.XRoad.Services, ", "))
	if err := n.waitHealthy(ctx, w.Healthy); err != nil {
		return err
	}
	if err := os.Remove(n.State.UpgradeFile()); err != nil {
		return err
	}
	n.say("upgrade finished on %s", n.Doc.Node)
	return nil
}

func (n *Node) readUpgrade() (upgradeState, error) {
	var st upgradeState
	err := n.State.ReadRecord(n.State.UpgradeFile(), &st)
	return st, err
}

// drain waits until no TCP connection on the message port is established.
func (n *Node) drain(ctx context.Context, timeout time.Duration) error {
	var count int
	err := retry.Every(ctx, time.Second, timeout, func(context.Context) (bool, error) {
		var err error
		count, err = established(messagePort)
		return count == 0, err
	})
	switch {
	case errors.Is(err, retry.ErrTimedOut):
		return fmt.Errorf("drain: %d connections still established on port %d after %s", count, messagePort, timeout)
	case err != nil:
		return fmt.Errorf("drain: %w", err)
	}
	n.say("drained: no connection established on port %d", messagePort)
	return nil
}

// established counts the established TCP connections with port at either
// end, as `ss -tn state established sport = :5500 or dport = :5500` does.
func established(port int) (int, error) {
	count := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			return 0, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "01" { // 01 = ESTABLISHED
				continue
			}
			if hasPort(fields[1], port) || hasPort(fields[2], port) {
				count++
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return 0, err
		}
	}
	return count, nil
}

// hasPort reads the hex port of a /proc/net/tcp address (ADDR:PORT).
func hasPort(addr string, port int) bool {
	_, hex, ok := strings.Cut(addr, ":")
	var p int
	_, err := fmt.Sscanf(hex, "%X", &p)
	return ok && err == nil && p == port
}

// waitHealthy waits for a 200 from the node's health check port.
func (n *Node) waitHealthy(ctx context.Context, timeout time.Duration) error {
	target := status.HealthURL(n.Doc)
	var h status.HealthCheck
	var probeErr error
	err := retry.Every(ctx, time.Second, timeout, func(ctx context.Context) (bool, error) {
		h, probeErr = status.ProbeHealth(ctx, target)
		return probeErr == nil && h.StatusCode == 200, nil
	})
	switch {
	case errors.Is(err, retry.ErrTimedOut) && probeErr != nil:
		return fmt.Errorf("health check %s: %w after %s", target, probeErr, timeout)
	case errors.Is(err, retry.ErrTimedOut):
		return fmt.Errorf("health check %s answers %d after %s: %s", target, h.StatusCode, timeout, h.FirstLine)
	case err != nil:
		return err
	}
	n.say("health check %s answers 200", target)
	return nil
}
