package scenarios

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"xroad-appliance/builder/build"
	"xroad-appliance/builder/definition"
	"xroad-appliance/test/base"
	"xroad-appliance/test/cache"
	"xroad-appliance/test/cluster"
	"xroad-appliance/test/fixtures"
)

// TestBuiltImageBoots builds images/securityserver.yaml with xroad-image's
// builder (from the cached base and the signed fixture repository), unpacks
// its rootfs output and boots a primary and a secondary from it: both reach a
// booted system with the serverconf instance and the provisioner, and end
// provisioned and streaming.
func TestBuiltImageBoots(t *testing.T) {
	cluster.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root, err := cache.Root()
	if err != nil {
		t.Fatal(err)
	}
	baseRootfs, err := base.Bootstrap(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := fixtures.BuildRepo(ctx, root, FixtureVersion)
	if err != nil {
		t.Fatal(err)
	}
	_, self, _, _ := runtime.Caller(0)
	d, err := definition.Load(filepath.Join(filepath.Dir(self), "../../images/securityserver.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(definition.Overrides{Profile: "debian-12", Base: "rootfs:" + baseRootfs, Outputs: []string{"rootfs-tar"},
		RepoDir: repo.Dir, RepoKeyring: repo.Keyring, Suite: fixtures.Suite, Offline: true}); err != nil {
		t.Fatal(err)
	}
	resolved, err := d.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	res, err := build.Run(ctx, build.Options{Definition: resolved, OutDir: filepath.Join(work, "out"),
		CacheRoot: filepath.Join(root, "xroad-image"), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %.1fs", res.ManifestDigest, res.Seconds)

	rootfs := filepath.Join(work, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "--numeric-owner", "-xpf", filepath.Join(work, "out", "rootfs.tar"), "-C", rootfs).CombinedOutput(); err != nil {
		t.Fatalf("unpack rootfs.tar: %v\n%s", err, out)
	}
	for _, f := range []string{"usr/bin/xroad-node", "usr/lib/systemd/system/xroad-provision.service",
		"etc/systemd/system/multi-user.target.wants/xroad-provision.service", "usr/share/xroad-appliance/profile.yaml"} {
		if _, err := os.Lstat(filepath.Join(rootfs, f)); err != nil {
			t.Errorf("built rootfs lacks %s", f)
		}
	}

	c := cluster.New(t, rootfs)
	tc := &testCluster{Cluster: c, kit: generateKit(t, c, 1)}
	ss1, ss2 := tc.boot(t, "ss1"), tc.boot(t, "ss2")
	for _, n := range []*cluster.Node{ss1, ss2} {
		state, err := n.WaitBooted(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if state != "running" {
			out, _ := n.Exec(ctx, "systemctl", "--failed", "--no-legend")
			t.Errorf("%s booted %s: %s", n.Name, state, out)
		}
		waitProvisioned(t, ctx, n)
		if st := strings.TrimSpace(n.MustExec(ctx, "systemctl", "is-active", "postgresql@15-serverconf")); st != "active" {
			t.Errorf("%s: serverconf instance %s", n.Name, st)
		}
	}
	expectStreaming(t, ctx, ss1, "ss2")
}
