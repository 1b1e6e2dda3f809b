package scenarios

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bcache "xroad-appliance/builder/cache"
	"xroad-appliance/builder/kit"
	"xroad-appliance/test/cluster"
	"xroad-appliance/test/nodeimage"
)

// UpgradeVersion is the fixture X-Road version of the image a cluster is
// rolled to.
const UpgradeVersion = "7.8.1-1"

// builtImage is one image the scenarios boot, made at most once per binary.
type builtImage struct {
	opts  nodeimage.Options
	once  sync.Once
	dir   string
	image *nodeimage.Image
	err   error
}

// built returns the image, building it on first use.
func (b *builtImage) built(t testing.TB) *nodeimage.Image {
	t.Helper()
	cluster.Need(t)
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		if b.dir, b.err = os.MkdirTemp("", "xroad-test-image-"); b.err != nil {
			return
		}
		b.image, b.err = nodeimage.Build(ctx, b.dir, b.opts)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.image
}

// layers returns the image's root file system, building it on first use.
func (b *builtImage) layers(t testing.TB) []string { return []string{b.built(t).Rootfs} }

// imageKey names a security-server image: its profile and fixture X-Road
// version.
type imageKey struct{ profile, version string }

// images are the security-server images the scenarios booted, each built
// on first use.
var (
	imagesMu sync.Mutex
	images   = map[imageKey]*builtImage{}
)

// TestMain removes the images the scenarios booted.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, b := range append(slices.Collect(maps.Values(images)), csDatabaseImage, csNodeImage) {
		if b.dir != "" {
			bcache.RemoveTree(b.dir)
		}
	}
	os.Exit(code)
}

// imageLayers returns the built image's root file system (xroad-image's
// builder with this checkout's xroad-node) on the default profile, made once
// per test binary.
func imageLayers(t testing.TB) []string {
	return imageOf(t, nodeimage.DefaultProfile, nodeimage.Version)
}

// imageOf returns the root file system of the image for profile carrying
// fixture X-Road version.
func imageOf(t testing.TB, profile, version string) []string {
	return []string{imageFor(t, profile, version).Rootfs}
}

// imageFor returns the image for profile carrying fixture X-Road version.
func imageFor(t testing.TB, profile, version string) *nodeimage.Image {
	k := imageKey{profile, version}
	imagesMu.Lock()
	b := images[k]
	if b == nil {
		b = &builtImage{opts: nodeimage.Options{Profile: profile, Version: version}}
		images[k] = b
	}
	imagesMu.Unlock()
	return b.built(t)
}

// testCluster is a booted-cluster fixture: the bridge, the kit and the
// image's profile.
type testCluster struct {
	*cluster.Cluster
	kit     *kit.Result
	profile string
	image   *nodeimage.Image
}

// newCluster makes the bridge and a kit for a primary and n secondaries named
// ss1, ss2, ... at .11, .12, ... on the default profile.
func newCluster(t testing.TB, secondaries int) *testCluster {
	return newClusterOn(t, nodeimage.DefaultProfile, secondaries)
}

// newClusterOn is newCluster booting the image of profile.
func newClusterOn(t testing.TB, profile string, secondaries int) *testCluster {
	img := imageFor(t, profile, nodeimage.Version)
	c := cluster.New(t, img.Rootfs)
	return &testCluster{Cluster: c, kit: generateKit(t, c, profile, secondaries), profile: profile, image: img}
}

// generateKit writes the kit for a primary and n secondaries on c's bridge.
func generateKit(t testing.TB, c *cluster.Cluster, profile string, secondaries int) *kit.Result {
	spec := kit.Spec{
		Cluster: "test",
		Primary: kit.Node{Name: "ss1", Address: c.Addr(11)},
		Options: kit.DefaultOptions(),
		Profile: profile,
	}
	for i := 0; i < secondaries; i++ {
		spec.Secondaries = append(spec.Secondaries, kit.Node{Name: "ss" + strconv.Itoa(2+i), Address: c.Addr(12 + i)})
	}
	res, err := kit.Generate(spec, nil, filepath.Join(t.TempDir(), "kit"), kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// boot starts the named node with its seed from the kit.
func (tc *testCluster) boot(t testing.TB, name string) *cluster.Node {
	t.Helper()
	n := tc.create(t, name)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	return n
}

// create makes the kit's node name with its seed, not yet started, so a
// test can change its disk before the first boot.
func (tc *testCluster) create(t testing.TB, name string) *cluster.Node {
	t.Helper()
	for _, n := range tc.kit.Nodes {
		if n.Name == name {
			seed, err := cluster.SeedDir(n.Dir)
			if err != nil {
				t.Fatal(err)
			}
			return tc.Create(name, n.Address, seed)
		}
	}
	t.Fatalf("no node %s in the kit", name)
	return nil
}

// waitProvisioned waits until xroad-provision.service has finished on node
// and fails the test unless it succeeded.
func waitProvisioned(t testing.TB, ctx context.Context, n *cluster.Node) {
	t.Helper()
	for {
		out, _ := n.Exec(ctx, "systemctl", "show", "-p", "ActiveState", "-p", "Result", "xroad-provision.service")
		state, result := property(out, "ActiveState"), property(out, "Result")
		switch {
		case state == "active" && result == "success":
			return
		case state == "failed" || (state == "inactive" && result != "" && result != "success"):
			t.Fatalf("%s: xroad-provision.service %s (%s)", n.Name, state, result)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: provisioning did not finish: %v (state %q)", n.Name, ctx.Err(), out)
		case <-time.After(time.Second):
		}
	}
}

// property picks KEY's value out of `systemctl show` output.
func property(show, key string) string {
	for _, line := range strings.Split(show, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
