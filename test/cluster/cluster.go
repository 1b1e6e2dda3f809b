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
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	bcache "xroad-appliance/builder/cache"
)

// T is what the harness needs from its caller: a test, or the demo.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// Cluster is a bridge and the nodes on it.
type Cluster struct {
	t      T
	Bridge string
	// Prefix is the first three octets of the bridge's /24; the host is .1.
	Prefix string
	layers []string // overlayfs lower layers, topmost first
	work   string
	nodes  []*Node
}

// Options place a cluster that outlives its caller, as the demo's does.
type Options struct {
	// Dir holds the nodes' disks and the cluster's state; "" is a new
	// temporary directory.
	Dir string
	// Bridge and Prefix fix the network; "" picks a free random one.
	Bridge, Prefix string
	// Keep leaves the cluster running when the caller ends; Down(Dir)
	// removes it later. Otherwise it is torn down in the caller's Cleanup.
	Keep bool
}

// Need skips the test unless it runs as root with nspawn available.
func Need(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("booted-node test (not in -short)")
	}
	if err := Usable(); err != nil {
		t.Skip(err)
	}
}

// Usable says why nodes cannot be booted here, or nil.
func Usable() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("booted nodes need root")
	}
	for _, tool := range []string{"systemd-nspawn", "nsenter", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not installed (apt-get install systemd-container iproute2)", tool)
		}
	}
	return nil
}

// New creates a test's cluster on a random bridge; layers are the image's
// read-only directories, the topmost first.
func New(t testing.TB, layers ...string) *Cluster {
	t.Helper()
	Need(t)
	return Open(t, Options{}, layers...)
}

// Open creates a cluster as o says.
func Open(t T, o Options, layers ...string) *Cluster {
	t.Helper()
	work := o.Dir
	var err error
	if work == "" {
		work, err = os.MkdirTemp("", "xroad-cluster-")
	} else {
		err = os.MkdirAll(work, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, layers: layers, work: work, Bridge: o.Bridge, Prefix: o.Prefix}
	if err := ensureNspawnRuntime(); err != nil {
		t.Fatal(err)
	}
	if err := c.createBridge(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, bridgeFile), []byte(c.Bridge+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !o.Keep {
		t.Cleanup(c.teardown)
	}
	return c
}

// bridgeFile and pidFile record a cluster in its directory for Down.
const (
	bridgeFile = "bridge"
	pidFile    = "nspawn.pid"
)

// Down removes a kept cluster: it stops every node recorded under dir,
// unmounts its disk, deletes the bridge and then dir itself.
func Down(dir string) error {
	var errs []error
	b, err := os.ReadFile(filepath.Join(dir, bridgeFile))
	if err != nil {
		return fmt.Errorf("%s is not a cluster directory: %w", dir, err)
	}
	c := &Cluster{Bridge: strings.TrimSpace(string(b)), work: dir}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n := &Node{Name: e.Name(), c: c, dir: filepath.Join(dir, e.Name())}
		if b, err := os.ReadFile(n.path(pidFile)); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				stopProcess(pid, func() bool { return !alive(pid) })
			}
		}
		n.stopped()
		if err := n.unmount(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
		}
	}
	exec.Command("ip", "link", "del", c.Bridge).Run()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return bcache.RemoveTree(dir)
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

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
	mounts, err := bcache.MountsUnder(dir)
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
	for attempt := 0; c.Bridge == "" && attempt < 20; attempt++ {
		rand.Read(b[:])
		n := binary.BigEndian.Uint32(b[:])
		prefix := fmt.Sprintf("10.%d.%d", 100+n%100, (n>>8)%250+1)
		if !addressInUse(prefix) {
			c.Prefix, c.Bridge = prefix, fmt.Sprintf("xrt%x", n&0xffffff)
		}
	}
	if c.Prefix == "" {
		return fmt.Errorf("no bridge name or address prefix")
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
	os.Remove(filepath.Join(c.work, bridgeFile))
	if err := bcache.RemoveTree(c.work); err != nil {
		c.t.Errorf("remove %s: %v", c.work, err)
	}
}

// XROAD_TEST_KEEP=1 leaves a failed test's nodes running for inspection.

// ctx is a background context for teardown steps that must run even after
// the test's own context is done.
var ctx = context.Background()
