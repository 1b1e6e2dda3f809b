package bake_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bcache "xroad-appliance/builder/cache"
	"xroad-appliance/builder/definition"
	"xroad-appliance/test/nodeimage"
)

// benchOutputs are every output but the registry push.
var benchOutputs = []string{definition.OutputOCILayout, definition.OutputDockerArchive, definition.OutputRootfsTar, definition.OutputPackageManifest}

// BenchmarkColdBuild builds from the cached base and package layer with no
// compressed layer in the cache: both lower layers are archived and
// compressed again, then the appliance layer and every file output are
// written. Target on a 2-core machine: 60 s.
func BenchmarkColdBuild(b *testing.B) {
	f := setup(b)
	r := f.resolve(b, definition.Overrides{Outputs: benchOutputs})
	warm(b, f, r)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if err := bcache.RemoveTree(filepath.Join(f.cacheRoot, "layers")); err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(b.TempDir(), "out")
		b.StartTimer()
		res, err := f.build(b, r, out, "")
		if err != nil {
			b.Fatal(err)
		}
		if res.Cache.BaseBlob || res.Cache.PackagesBlob || !res.Cache.Base || !res.Cache.Packages {
			b.Fatalf("not a cold build from cached base and packages: %+v", res.Cache)
		}
		b.StopTimer()
		os.RemoveAll(out) // a GB per build: do not let write-back of old outputs slow the next
		b.StartTimer()
	}
}

// BenchmarkWarmRebuild rebuilds with only the xroad-node binary changed:
// base and package layers and their blobs come from the cache. Target on a
// 2-core machine: 3 s on the default profile (ubuntu-24.04), built as the
// booted tests build it; also timed on the builder tests' Debian 12 base.
func BenchmarkWarmRebuild(b *testing.B) {
	f := setup(b)
	b.Run(nodeimage.DefaultProfile, func(b *testing.B) {
		// The booted tests' image, from their cache: its base and package
		// layers are what they boot.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		r, cacheRoot, err := nodeimage.Resolve(ctx, nodeimage.Options{Outputs: []string{definition.OutputOCILayout, definition.OutputDockerArchive}})
		if err != nil {
			b.Fatal(err)
		}
		u := *f
		u.cacheRoot = cacheRoot
		warmRebuild(b, &u, r)
	})
	b.Run("debian-12", func(b *testing.B) {
		warmRebuild(b, f, f.resolve(b, definition.Overrides{Outputs: benchOutputs}))
	})
}

func warmRebuild(b *testing.B, f *fixture, r *definition.Resolved) {
	warm(b, f, r)
	bin, err := os.ReadFile(f.nodeBinary)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		node := filepath.Join(b.TempDir(), "xroad-node")
		if err := os.WriteFile(node, append(bin, fmt.Sprintf("\nrebuild %d", i)...), 0o755); err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(b.TempDir(), "out")
		b.StartTimer()
		res, err := f.build(b, r, out, node)
		if err != nil {
			b.Fatal(err)
		}
		if c := res.Cache; !c.Base || !c.Packages || !c.BaseBlob || !c.PackagesBlob {
			b.Fatalf("warm rebuild missed the cache: %+v", c)
		}
		b.StopTimer()
		os.RemoveAll(out)
		b.StartTimer()
	}
}

// warm makes sure base and package layer are cached before timing.
func warm(b *testing.B, f *fixture, r *definition.Resolved) {
	b.Helper()
	if _, err := f.build(b, r, filepath.Join(b.TempDir(), "warm"), ""); err != nil {
		b.Fatal(err)
	}
}
