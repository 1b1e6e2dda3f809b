// Package cache is where the test harness keeps expensive artefacts (the
// Debian base rootfs, the fixture apt repository) outside the repository:
// its own root for the image builder's cache (builder/cache), which makes,
// keys and locks them.
package cache

import (
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
