package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	bcache "xroad-appliance/builder/cache"
)

// Node is one booted container.
type Node struct {
	Name, Addr string
	c          *Cluster
	dir        string   // upper/, work/, root/ and console.log
	layers     []string // the image it boots, topmost layer first
	cmd        *exec.Cmd
	exited     chan struct{}
	leader     int // the container's PID 1, seen from the host
}

// Seed is a NoCloud seed: file name (user-data, meta-data) to content.
type Seed map[string][]byte

// SeedDir reads a seed directory as `xroad-image kit` writes one per node.
func SeedDir(dir string) (Seed, error) {
	s := Seed{}
	for _, name := range []string{"user-data", "meta-data"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		s[name] = b
	}
	return s, nil
}

// Boot creates node name at addr with a fresh copy of the image and its seed,
// and starts it.
func (c *Cluster) Boot(name, addr string, seed Seed) *Node {
	c.t.Helper()
	n := c.Create(name, addr, seed)
	if err := n.Start(); err != nil {
		c.t.Fatalf("node %s: %v", name, err)
	}
	return n
}

// machine is the nspawn machine name, unique on the host so that parallel
// clusters' veth interfaces (named after it) never collide.
func (n *Node) machine() string { return strings.TrimPrefix(n.c.Bridge, "xrt") + "-" + n.Name }

// Create makes the node's disk without starting it, so a test can change
// files (WriteFile) before the first boot.
func (c *Cluster) Create(name, addr string, seed Seed) *Node {
	c.t.Helper()
	return c.CreateFrom(c.layers, name, addr, seed)
}

// CreateFrom is Create with another image than the cluster's: a node
// replaced by a newer image.
func (c *Cluster) CreateFrom(layers []string, name, addr string, seed Seed) *Node {
	c.t.Helper()
	n := &Node{Name: name, Addr: addr, c: c, dir: filepath.Join(c.work, name), layers: layers}
	if err := n.create(seed); err != nil {
		c.t.Fatalf("node %s: %v", name, err)
	}
	c.nodes = append(c.nodes, n)
	return n
}

// WriteFile writes a file onto the node's disk from the host.
func (n *Node) WriteFile(p string, content []byte, mode os.FileMode) error {
	full := filepath.Join(n.Root(), p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	return os.WriteFile(full, content, mode)
}

func (n *Node) path(p string) string { return filepath.Join(n.dir, p) }

// Root is the node's file system as the host sees it while it is mounted.
func (n *Node) Root() string { return n.path("root") }

func (n *Node) create(seed Seed) error {
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.MkdirAll(n.path(d), 0o755); err != nil {
			return err
		}
	}
	if err := n.mount(); err != nil {
		return err
	}
	seedDir := filepath.Join(n.Root(), "var/lib/cloud/seed/nocloud")
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		return err
	}
	for name, content := range seed {
		if err := os.WriteFile(filepath.Join(seedDir, name), content, 0o600); err != nil {
			return err
		}
	}
	// The network a cloud would describe: NoCloud's network-config, which
	// the image's cloud-init renders for systemd-networkd.
	network := fmt.Sprintf("version: 2\nethernets:\n  host0:\n    addresses: [%s/24]\n", n.Addr)
	return os.WriteFile(filepath.Join(seedDir, "network-config"), []byte(network), 0o600)
}

func (n *Node) mount() error {
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(n.layers, ":"), n.path("upper"), n.path("work"))
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", opts, n.Root()).CombinedOutput(); err != nil {
		return fmt.Errorf("mount overlay: %v: %s", err, out)
	}
	return nil
}

// Start boots the node (again) on its existing disk.
func (n *Node) Start() error {
	if n.cmd != nil {
		return fmt.Errorf("already running")
	}
	console, err := os.OpenFile(n.path("console.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer console.Close()
	// nspawn with --keep-unit splits the cgroup it starts in into supervisor
	// and payload; started from one shared cgroup, every node's systemd would
	// manage the same payload tree, and a unit stopping on one node would
	// remove the cgroup of the same unit running on another. So each node
	// starts in a cgroup of its own.
	cgroups := n.cgroups()
	for _, g := range cgroups {
		// A cgroup left by an earlier node of this name would mix its
		// stale tree with the new node's.
		if err := removeCgroup(g); err != nil {
			return err
		}
	}
	cmd := exec.Command("sh", "-c", `for g in $XROAD_NODE_CGROUPS; do mkdir -p "$g" && echo $$ > "$g/cgroup.procs" || exit 1; done
unset XROAD_NODE_CGROUPS; exec "$@"`, "nspawn",
		"systemd-nspawn", "--quiet", "--register=no", "--keep-unit",
		"-D", n.Root(), "-M", n.machine(), "-b", "--network-bridge="+n.c.Bridge, "--console=read-only")
	cmd.Env = append(os.Environ(), "XROAD_NODE_CGROUPS="+strings.Join(cgroups, " "))
	cmd.Stdout, cmd.Stderr = console, console
	// A session of its own: a kept node outlives the caller's terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	if err := os.WriteFile(n.path(pidFile), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return err
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(n.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if pid := containerInit(cmd.Process.Pid); pid > 0 {
			n.leader = pid
			return nil
		}
		select {
		case <-n.exited:
			return fmt.Errorf("systemd-nspawn exited at start; see %s", n.path("console.log"))
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("no container init under systemd-nspawn %d", cmd.Process.Pid)
}

// containerInit finds the child of nspawn that is PID 1 in its own namespace.
func containerInit(nspawn int) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, status := range procs {
		f, err := os.Open(status)
		if err != nil {
			continue
		}
		var ppid int
		var nspid []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			switch k {
			case "PPid":
				ppid, _ = strconv.Atoi(strings.TrimSpace(v))
			case "NSpid":
				nspid = strings.Fields(v)
			}
		}
		f.Close()
		if ppid == nspawn && len(nspid) == 2 && nspid[1] == "1" {
			pid, _ := strconv.Atoi(nspid[0])
			return pid
		}
	}
	return 0
}

// Exec runs a command inside the node and returns its combined output.
func (n *Node) Exec(ctx context.Context, args ...string) (string, error) {
	if n.leader == 0 {
		return "", fmt.Errorf("node %s is not running", n.Name)
	}
	full := append([]string{"-t", strconv.Itoa(n.leader), "-a", "--",
		"env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root"}, args...)
	out, err := exec.CommandContext(ctx, "nsenter", full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s on %s: %w\n%s", strings.Join(args, " "), n.Name, err, out)
	}
	return string(out), nil
}

// MustExec is Exec that fails the test.
func (n *Node) MustExec(ctx context.Context, args ...string) string {
	n.c.t.Helper()
	out, err := n.Exec(ctx, args...)
	if err != nil {
		n.c.t.Fatal(err)
	}
	return out
}

// WaitBooted waits until systemd has finished starting up and returns its
// state (running or degraded).
func (n *Node) WaitBooted(ctx context.Context) (string, error) {
	for {
		out, _ := n.Exec(ctx, "systemctl", "is-system-running", "--wait")
		state := strings.TrimSpace(out)
		switch state {
		case "running", "degraded":
			return state, nil
		}
		select {
		case <-ctx.Done():
			return state, fmt.Errorf("node %s not booted (%q): %w", n.Name, state, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop shuts the node down cleanly (nspawn turns SIGTERM into a poweroff),
// killing it after a grace period.
func (n *Node) Stop() error {
	if n.cmd == nil {
		return nil
	}
	stopProcess(n.cmd.Process.Pid, func() bool {
		select {
		case <-n.exited:
			return true
		default:
			return false
		}
	})
	<-n.exited
	n.stopped()
	return nil
}

// stopProcess sends nspawn's process group SIGTERM, and SIGKILL if it has not
// exited within a minute.
func stopProcess(pid int, exited func() bool) {
	syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if exited() {
			return
		}
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	for i := 0; i < 100 && !exited(); i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

func (n *Node) stopped() {
	n.cmd, n.leader = nil, 0
	os.Remove(n.path(pidFile))
	for _, g := range n.cgroups() {
		// The node's last processes may still be exiting.
		for i := 0; i < 50 && removeCgroup(g) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// cgroups are the node's own cgroup in each hierarchy the host mounts: the
// unified one, and on a hybrid host the named systemd one and cpuacct too.
func (n *Node) cgroups() []string {
	var roots []string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.procs"); err == nil {
		roots = []string{"/sys/fs/cgroup"} // unified only
	} else {
		for _, h := range []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"} {
			if _, err := os.Stat(h + "/cgroup.procs"); err == nil {
				roots = append(roots, h)
			}
		}
	}
	// On a hybrid host the unified hierarchy has no controllers: a cgroup
	// of the node's own in cpuacct counts its processor time.
	if _, err := os.Stat(cpuacctRoot + "/cgroup.procs"); err == nil {
		roots = append(roots, cpuacctRoot)
	}
	var out []string
	for _, r := range roots {
		out = append(out, n.cgroupIn(r))
	}
	return out
}

// cgroupIn is the node's own cgroup in the hierarchy mounted at root.
func (n *Node) cgroupIn(root string) string { return filepath.Join(root, "xroad-nodes", n.machine()) }

const cpuacctRoot = "/sys/fs/cgroup/cpuacct"

// CPU is the processor time the node's processes have used since it
// started, read from its cgroup: cpuacct.usage on a hybrid host, cpu.stat
// on a unified one.
func (n *Node) CPU() (time.Duration, error) {
	if b, err := os.ReadFile(filepath.Join(n.cgroupIn(cpuacctRoot), "cpuacct.usage")); err == nil {
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return time.Duration(ns), err
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.procs"); err == nil { // unified only
		b, err := os.ReadFile(filepath.Join(n.cgroupIn("/sys/fs/cgroup"), "cpu.stat"))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				us, err := strconv.ParseInt(v, 10, 64)
				return time.Duration(us) * time.Microsecond, err
			}
		}
	}
	return 0, fmt.Errorf("node %s: no cgroup counts its CPU time", n.Name)
}

// removeCgroup removes an emptied cgroup tree, children first (a cgroup
// directory is removed with rmdir, and only once it has no children). A tree
// that is already gone is no error.
func removeCgroup(dir string) error {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeCgroup(filepath.Join(dir, e.Name()))
		}
	}
	if err := syscall.Rmdir(dir); err != nil && err != syscall.ENOENT {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

// Kill stops the node at once, like pulling the power.
func (n *Node) Kill() {
	if n.cmd == nil {
		return
	}
	syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	if n.leader > 0 {
		syscall.Kill(n.leader, syscall.SIGKILL)
	}
	<-n.exited
	n.stopped()
}

// Leader is the host PID of the node's init, for nsenter; 0 when stopped.
func (n *Node) Leader() int { return n.leader }

// unmount takes the node's overlay down if it is mounted.
func (n *Node) unmount() error {
	if out, err := exec.Command("umount", n.Root()).CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "not mounted") && !strings.Contains(string(out), "no mount point") {
		return fmt.Errorf("umount: %v: %s", err, out)
	}
	return nil
}

// Destroy stops the node and removes its disk.
func (n *Node) Destroy() error {
	n.Stop()
	var errs []error
	if err := n.unmount(); err != nil {
		errs = append(errs, err)
	}
	if err := bcache.RemoveTree(n.dir); err != nil {
		errs = append(errs, err)
	}
	for i, m := range n.c.nodes {
		if m == n {
			n.c.nodes = append(n.c.nodes[:i], n.c.nodes[i+1:]...)
			break
		}
	}
	return errors.Join(errs...)
}

// ReadFile reads a file of the node's disk from the host.
func (n *Node) ReadFile(p string) ([]byte, error) { return os.ReadFile(filepath.Join(n.Root(), p)) }

// collectDiagnostics logs what explains a failure: the provisioner's journal
// and result file, failed units and the console.
func (n *Node) collectDiagnostics() {
	t := n.c.t
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if n.leader > 0 {
		// The whole journal goes to a file; the log gets the provisioner's
		// last lines, so the test's own failure stays in view.
		full, _ := n.Exec(c, "journalctl", "--no-pager", "-o", "short-monotonic")
		saved := filepath.Join(os.TempDir(), "xroad-test-journals", n.machine()+".journal")
		if os.MkdirAll(filepath.Dir(saved), 0o700) == nil && os.WriteFile(saved, []byte(full), 0o600) == nil {
			t.Logf("--- %s whole journal: %s", n.Name, saved)
		}
		out, _ := n.Exec(c, "journalctl", "--no-pager", "-o", "short-monotonic", "-n", "40", "-u", "xroad-provision", "-u", "cloud-init", "-u", "cloud-init-local")
		t.Logf("--- %s journal (provisioning, tail) ---\n%s", n.Name, out)
		out, _ = n.Exec(c, "systemctl", "--failed", "--no-pager")
		t.Logf("--- %s failed units ---\n%s", n.Name, out)
	}
	if b, err := n.ReadFile("/var/lib/xroad-node/result.json"); err == nil {
		t.Logf("--- %s result.json ---\n%s", n.Name, b)
	}
	if b, err := os.ReadFile(n.path("console.log")); err == nil {
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		t.Logf("--- %s console (tail) ---\n%s", n.Name, b)
	}
}

// HostPIDs lists the host PIDs of the node's processes whose command name
// is comm, so a test can signal them without a round trip into the node.
func (n *Node) HostPIDs(comm string) []int {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", n.leader))
	if err != nil {
		return nil
	}
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		name, err := os.ReadFile(d + "/comm")
		if err != nil || strings.TrimSpace(string(name)) != comm {
			continue
		}
		if l, _ := os.Readlink(d + "/ns/pid"); l != ns {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Follow streams the output of a command run inside the node (e.g.
// `journalctl -f`) line by line until ctx ends.
func (n *Node) Follow(ctx context.Context, lines chan<- string, args ...string) error {
	full := append([]string{"-t", strconv.Itoa(n.leader), "-a", "--",
		"env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		cmd.Wait()
		close(lines)
	}()
	return nil
}
