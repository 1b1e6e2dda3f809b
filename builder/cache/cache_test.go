package cache

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

func TestEnsureBuildsOnceUnderConcurrency(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "entry")
	var builds atomic.Int32
	build := func(ctx context.Context, tmp string) error {
		builds.Add(1)
		return os.WriteFile(filepath.Join(tmp, "done"), []byte("yes"), 0o644)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := Ensure(context.Background(), dir, build)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := os.Stat(filepath.Join(got, "done")); err != nil {
				t.Error("entry returned before it was complete:", err)
			}
		}()
	}
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Fatalf("built %d times, want 1", n)
	}
}

func TestEnsureFailedBuildLeavesNothing(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "entry")
	_, err := Ensure(context.Background(), dir, func(ctx context.Context, tmp string) error {
		return os.ErrInvalid
	})
	if err == nil {
		t.Fatal("want error")
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "entry*"))
	for _, l := range leftovers {
		if filepath.Ext(l) != ".lock" {
			t.Errorf("left behind %s", l)
		}
	}
}

func TestEnsureRemovesStaleTemporaryBuilds(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "entry")
	stale := dir + ".tmp-deadbeef"
	if err := os.MkdirAll(filepath.Join(stale, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(context.Background(), dir, func(ctx context.Context, tmp string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale build still there: %v", err)
	}
}

func TestHasherSeparatesFields(t *testing.T) {
	a := NewHasher("k").AddString("x", "ab").AddString("y", "c").Sum()
	b := NewHasher("k").AddString("x", "a").AddString("y", "bc").Sum()
	if a == b {
		t.Fatal("field boundaries are not part of the key")
	}
	if len(a) != 16 {
		t.Fatalf("key %q: want 16 hex digits", a)
	}
}

// TestRootHonoursEnvironment: each cache root (the builder's, the test
// harness's) is its variable's value, else its name under XDG_CACHE_HOME.
func TestRootHonoursEnvironment(t *testing.T) {
	for _, c := range []struct{ env, name string }{{EnvRoot, "xroad-image"}, {"XROAD_APPLIANCE_CACHE", "xroad-appliance"}} {
		t.Setenv(c.env, "/srv/cache")
		if got, _ := RootFrom(c.env, c.name); got != "/srv/cache" {
			t.Fatalf("%s set: root %q", c.env, got)
		}
		t.Setenv(c.env, "")
		t.Setenv("XDG_CACHE_HOME", "/xdg")
		if got, _ := RootFrom(c.env, c.name); got != "/xdg/"+c.name {
			t.Fatalf("%s empty: root %q", c.env, got)
		}
	}
}

func TestGetReportsHits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "entry")
	build := func(ctx context.Context, tmp string) error { return nil }
	if _, hit, err := Get(context.Background(), dir, build); err != nil || hit {
		t.Fatalf("first Get: hit=%v err=%v", hit, err)
	}
	if _, hit, err := Get(context.Background(), dir, build); err != nil || !hit {
		t.Fatalf("second Get: hit=%v err=%v", hit, err)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/a\040b`); got != "/a b" {
		t.Fatalf("got %q", got)
	}
}
