// Package cluster boots systemd nodes with systemd-nspawn for tests: each node
// is an overlayfs over shared read-only image layers, attached to a private
// bridge the cluster creates (no route off it), given its NoCloud seed in
// /var/lib/cloud/seed/nocloud/ so that the image's own cloud-init hands over
// the role. Everything is torn down when the test ends, failed or not.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"xroad-appliance/test/cache"
)

// Cluster is a bridge and the nodes on it.
type Cluster struct {
	t      testing.TB
	Bridge string
	// Prefix is the first three octets of the bridge's /24; the host is .1.
	Prefix string
	layers []string // overlayfs lower layers, topmost first
	work   string
	nodes  []*Node
}

// Need skips the test unless it runs as root with nspawn available.
func Need(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("booted-node test (not in -short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("booted nodes need root")
	}
	for _, tool := range []string{"systemd-nspawn", "nsenter", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install systemd-container iproute2)", tool)
		}
	}
}

// New creates the bridge; layers are the image's read-only directories, the
// topmost first.
func New(t testing.TB, layers ...string) *Cluster {
	t.Helper()
	Need(t)
	work, err := os.MkdirTemp("", "xroad-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, layers: layers, work: work}
	if err := ensureNspawnRuntime(); err != nil {
		t.Fatal(err)
	}
	if err := c.createBridge(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.teardown)
	return c
}

// Addr is the address of host number i (2..254) on the bridge.
func (c *Cluster) Addr(i int) string { return fmt.Sprintf("%s.%d", c.Prefix, i) }

// ensureNspawnRuntime follows the recipe proven on these hosts: systemd-nspawn
// refuses to start unless /run/systemd/nspawn is a tmpfs of its own, so one
// is mounted there once (and left for later runs).
func ensureNspawnRuntime() error {
	dir := "/run/systemd/nspawn"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mounts, err := cache.MountsUnder(dir)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if m == dir {
			return nil
		}
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "tmpfs", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %v: %s", dir, err, out)
	}
	return nil
}

// createBridge picks a free 10.x.y.0/24 and a bridge name, and brings the
// bridge up with .1. Forwarding is not touched: nodes reach each other and the
// host, nothing else.
func (c *Cluster) createBridge() error {
	var b [4]byte
	for attempt := 0; attempt < 20; attempt++ {
		rand.Read(b[:])
		n := binary.BigEndian.Uint32(b[:])
		c.Prefix = fmt.Sprintf("10.%d.%d", 100+n%100, (n>>8)%250+1)
		c.Bridge = fmt.Sprintf("xrt%x", n&0xffffff)
		if !addressInUse(c.Prefix) {
			break
		}
	}
	cmds := [][]string{
		{"ip", "link", "add", c.Bridge, "type", "bridge"},
		{"ip", "addr", "add", c.Addr(1) + "/24", "dev", c.Bridge},
		{"ip", "link", "set", c.Bridge, "up"},
	}
	for _, args := range cmds {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func addressInUse(prefix string) bool {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if strings.HasPrefix(a.String(), prefix+".") {
			return true
		}
	}
	return false
}

func (c *Cluster) teardown() {
	if c.t.Failed() && os.Getenv("XROAD_TEST_KEEP") != "" {
		for _, n := range c.nodes {
			c.t.Logf("kept %s: nsenter -t %d -a bash", n.Name, n.leader)
		}
		return
	}
	for _, n := range append([]*Node(nil), c.nodes...) {
		if c.t.Failed() {
			n.collectDiagnostics()
		}
		if err := n.Destroy(); err != nil {
			c.t.Errorf("tear down %s: %v", n.Name, err)
		}
	}
	exec.Command("ip", "link", "del", c.Bridge).Run()
	if err := cache.RemoveTree(c.work); err != nil {
		c.t.Errorf("remove %s: %v", c.work, err)
	}
}

// XROAD_TEST_KEEP=1 leaves a failed test's nodes running for inspection.

// ctx is a background context for teardown steps that must run even after
// the test's own context is done.
var ctx = context.Background()
