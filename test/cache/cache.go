// Package cache keeps expensive test artefacts (the Debian base rootfs, the
// fixture apt repository) outside the repository, keyed by a hash of their
// inputs. It is the image builder's cache (builder/cache) with the test
// harness's own root.
package cache

import (
	"context"

	bcache "xroad-appliance/builder/cache"
)

// EnvRoot overrides the cache root.
const EnvRoot = "XROAD_APPLIANCE_CACHE"

// Root returns the cache root: $XROAD_APPLIANCE_CACHE, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/xroad-appliance.
func Root() (string, error) { return bcache.RootFrom(EnvRoot, "xroad-appliance") }

// ResolveRoot returns root if it is set and Root otherwise.
func ResolveRoot(root string) (string, error) {
	if root != "" {
		return bcache.ResolveRoot(root)
	}
	return Root()
}

// Ensure returns the directory dir, building it first if it does not exist;
// see builder/cache.Ensure.
func Ensure(ctx context.Context, dir string, build func(ctx context.Context, tmp string) error) (string, error) {
	return bcache.Ensure(ctx, dir, build)
}

// Hasher derives a cache key from named inputs.
type Hasher = bcache.Hasher

// NewHasher starts a key; kind names what is cached and is hashed too.
func NewHasher(kind string) *Hasher { return bcache.NewHasher(kind) }

// Lock takes an exclusive flock on path and returns its release function.
func Lock(ctx context.Context, path string) (unlock func(), err error) { return bcache.Lock(ctx, path) }

// RemoveTree deletes dir after detaching every mount below it.
func RemoveTree(dir string) error { return bcache.RemoveTree(dir) }

// MountsUnder lists the mount points at or below dir, deepest first.
func MountsUnder(dir string) ([]string, error) { return bcache.MountsUnder(dir) }
