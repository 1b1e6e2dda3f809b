// Command demo boots the demo cluster of `make demo`: it builds the default
// image (images/securityserver.yaml on the default profile, ubuntu-24.04, with the
// fixture X-Road packages, since the X-Road repository is out of reach here),
// writes the kit for test/demo/cluster.yaml, boots one systemd-nspawn node per
// kit node on a private bridge, waits until both secondaries stream and have
// synced the configuration, and prints the cluster's status. The nodes keep
// running; `make demo-down` (demo down) removes them.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	bcache "xroad-appliance/builder/cache"
	"xroad-appliance/builder/kit"
	"xroad-appliance/test/cluster"
	"xroad-appliance/test/clusterstatus"
	"xroad-appliance/test/nodeimage"
)

// Where the demo lives: everything under dir is the demo's own.
const (
	dir      = "demo"
	specFile = "test/demo/cluster.yaml"
	bridge   = "xrdemo0"
	deadline = 10 * time.Minute
)

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: demo up|down   (run from the repository root, as root)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := up
	if os.Args[1] == "down" {
		run = down
	}
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func up(ctx context.Context) error {
	if err := cluster.Usable(); err != nil {
		return err
	}
	clusterDir := filepath.Join(dir, "cluster")
	if _, err := os.Stat(clusterDir); err == nil {
		return fmt.Errorf("a demo cluster is already up in %s; `make demo-down` removes it", clusterDir)
	}
	b, err := os.ReadFile(specFile)
	if err != nil {
		return err
	}
	spec, err := kit.ParseSpec(b)
	if err != nil {
		return fmt.Errorf("%s: %w", specFile, err)
	}

	fmt.Printf("== image: %s, profile %s (fixture X-Road %s)\n", nodeimage.Definition(), nodeimage.DefaultProfile, nodeimage.Version)
	img, err := nodeimage.Build(ctx, dir, nodeimage.Options{Progress: func(line string) { fmt.Println("   " + line) }})
	if err != nil {
		return err
	}
	fmt.Printf("   %s in %.1fs -> %s\n", img.Build.ManifestDigest, img.Build.Seconds, img.Rootfs)

	fmt.Printf("== kit: %s -> %s\n", specFile, filepath.Join(dir, "kit"))
	if err := os.RemoveAll(filepath.Join(dir, "kit")); err != nil {
		return err
	}
	k, err := kit.Generate(*spec, nil, filepath.Join(dir, "kit"), kit.Options{})
	if err != nil {
		return err
	}

	prefix, err := prefixOf(spec.Primary.Address)
	if err != nil {
		return fmt.Errorf("%s: primary.address: %w", specFile, err)
	}
	fmt.Printf("== booting %d nodes on bridge %s (%s.0/24)\n", len(k.Nodes), bridge, prefix)
	abs, _ := filepath.Abs(clusterDir)
	c := cluster.Open(fatal{}, cluster.Options{Dir: abs, Bridge: bridge, Prefix: prefix, Keep: true}, img.Rootfs)
	var nodes []*cluster.Node
	for _, kn := range k.Nodes {
		seed, err := cluster.SeedDir(kn.Dir)
		if err != nil {
			return err
		}
		nodes = append(nodes, c.Boot(kn.Name, kn.Address, seed))
	}

	start := time.Now()
	view, err := waitConverged(ctx, nodes)
	fmt.Println()
	view.WriteTable(os.Stdout)
	fmt.Println()
	if err != nil {
		for i, n := range nodes {
			if r := view.Reports[i]; r == nil || !r.Provisioning.Provisioned {
				out, _ := n.Exec(ctx, "journalctl", "--no-pager", "-n", "15", "-u", "xroad-provision")
				fmt.Printf("== %s: last provisioning lines\n%s\n", n.Name, out)
			}
		}
		fmt.Println("The nodes are left running for a look; `make demo-down` removes them.")
		return err
	}
	fmt.Printf("Cluster converged %.0fs after boot.\n\n", time.Since(start).Seconds())
	fmt.Println("Enter a node (a root shell inside it):")
	for _, n := range nodes {
		fmt.Printf("   %s:  nsenter -t %d -a bash -l\n", n.Name, n.Leader())
	}
	fmt.Printf("Then, for instance: xroad-node status; journalctl -u xroad-provision\n")
	fmt.Println("Remove the cluster: make demo-down")
	return nil
}

// waitConverged polls the nodes' status until the cluster has converged,
// printing what it still waits for whenever that changes.
func waitConverged(ctx context.Context, nodes []*cluster.Node) (clusterstatus.View, error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	last := ""
	fmt.Println("   waiting for: provisioning")
	clusterstatus.WaitProvisioned(ctx, nodes)
	for {
		view := clusterstatus.Collect(ctx, nodes)
		ok, waiting := view.Converged()
		if ok {
			return view, nil
		}
		if waiting != last {
			fmt.Println("   waiting for: " + strings.ReplaceAll(waiting, "\n", "; "))
			last = waiting
		}
		select {
		case <-ctx.Done():
			return view, fmt.Errorf("not converged within %s: %s", deadline, strings.ReplaceAll(waiting, "\n", "; "))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func prefixOf(addr string) (string, error) {
	ip := net.ParseIP(addr).To4()
	if ip == nil {
		return "", fmt.Errorf("%q is not an IPv4 address", addr)
	}
	return fmt.Sprintf("%d.%d.%d", ip[0], ip[1], ip[2]), nil
}

func down(context.Context) error {
	clusterDir := filepath.Join(dir, "cluster")
	if _, err := os.Stat(clusterDir); errors.Is(err, os.ErrNotExist) {
		fmt.Println("no demo cluster is up")
	} else if err := cluster.Down(clusterDir); err != nil {
		return err
	} else {
		fmt.Println("demo cluster stopped and removed")
	}
	// The rest of demo/ (image, rootfs, kit) is the demo's own output.
	return bcache.RemoveTree(dir)
}

// fatal is the harness's caller outside a test: a fatal error ends the
// command, and the nodes stay up for `make demo-down`.
type fatal struct{}

func (fatal) Helper() {}
func (fatal) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"demo:"}, args...)...)
	os.Exit(1)
}
func (fatal) Fatalf(format string, a ...any) { fatal{}.Fatal(fmt.Sprintf(format, a...)) }
func (fatal) Errorf(format string, a ...any) { fmt.Fprintf(os.Stderr, "demo: "+format+"\n", a...) }
func (fatal) Logf(format string, a ...any)   { fmt.Printf(format+"\n", a...) }
func (fatal) Cleanup(func())                 {}
func (fatal) Failed() bool                   { return false }
