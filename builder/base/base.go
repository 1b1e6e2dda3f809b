// Package base provides the base root file system of an image: bootstrapped
// with the profile's tool (debootstrap, or dnf --installroot for the RHEL
// family), pulled from a registry, read from an OCI image layout, or copied
// from a prepared directory. Every base is cached keyed by its inputs and
// freed of machine identity and package caches.
package base

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"xroad-appliance/builder/cache"
	"xroad-appliance/builder/progress"
	"xroad-appliance/builder/rootfs"
	"xroad-appliance/profiles"
)

// recipe changes whenever the steps after fetching a base change.
const recipe = "base-2"

// Source kinds.
const (
	KindBootstrap = "bootstrap"
	KindImage     = "image"
	KindOCILayout = "oci-layout"
	KindRootfs    = "rootfs"
)

// Source is where a base comes from.
type Source struct {
	Kind string
	// Ref is the registry reference (image) or the ref name in a layout.
	Ref string
	// Dir is the layout or root directory.
	Dir string
}

// Spec is everything a base is made from.
type Spec struct {
	Source Source
	// Profile names the profile in messages and keys the package manager's
	// cache of a dnf bootstrap.
	Profile string
	// Bootstrap is how a KindBootstrap base is made: the profile's facts.
	Bootstrap profiles.Bootstrap
	// Remove is the per-install material removed from the base (the
	// profile's and the definition's install.remove); Empty are the files
	// emptied (the profile's install.empty).
	Remove, Empty []string
}

// Base is a cached base root file system.
type Base struct {
	// Rootfs is shared: never write into it.
	Rootfs string
	// Key identifies the base's inputs; later layers' keys include it.
	Key string
	// Describe names the source for image labels without host paths (the
	// same inputs give the same image anywhere), e.g. "debootstrap bookworm
	// http://deb.debian.org/debian" or "docker.io/library/debian@sha256:...".
	Describe string
	Hit      bool
}

// fetcher makes a base: key and description first (cheap), fill on a cache miss.
type fetcher interface {
	key(ctx context.Context) (key, describe string, err error)
	fill(ctx context.Context, rootfs, logFile string) error
}

// Get returns the base spec asks for, building it under cacheRoot if
// needed. The per-install material is removed and emptied in the base
// itself, so that no layer of the image carries it, not even under a later
// layer's whiteout; both lists are part of the key.
func Get(ctx context.Context, cacheRoot string, spec Spec, p progress.Func) (*Base, error) {
	src := spec.Source
	var f fetcher
	switch src.Kind {
	case KindBootstrap:
		f = &bootstrap{profile: spec.Profile, facts: spec.Bootstrap, cacheRoot: cacheRoot}
	case KindImage:
		f = &registryImage{ref: src.Ref}
	case KindOCILayout:
		f = &ociLayout{dir: src.Dir, ref: src.Ref}
	case KindRootfs:
		f = &directory{dir: src.Dir}
	default:
		return nil, fmt.Errorf("base: unknown source kind %q", src.Kind)
	}
	key, describe, err := f.key(ctx)
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", src.Kind, err)
	}
	key = cache.NewHasher("base").AddString("recipe", recipe).AddString("source", key).
		AddString("remove", join(spec.Remove)).AddString("empty", join(spec.Empty)).Sum()
	entry := filepath.Join(cacheRoot, "base", src.Kind+"-"+key)
	dir, hit, err := cache.Get(ctx, entry, func(ctx context.Context, tmp string) error {
		done := p.Step("base: %s", describe)
		err := build(ctx, f, tmp, describe, spec.Remove, spec.Empty)
		done(err)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", describe, err)
	}
	if hit {
		p.Printf("base: cached %s", describe)
	}
	return &Base{Rootfs: filepath.Join(dir, "rootfs"), Key: key, Describe: describe, Hit: hit}, nil
}

func build(ctx context.Context, f fetcher, tmp, describe string, remove, empty []string) error {
	start := time.Now()
	root := filepath.Join(tmp, "rootfs")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	if err := f.fill(ctx, root, filepath.Join(tmp, "build.log")); err != nil {
		return err
	}
	if err := trimPackageCaches(root); err != nil {
		return err
	}
	if err := rootfs.ResetIdentity(root); err != nil {
		return err
	}
	removed, err := rootfs.RemovePerInstall(root, remove, empty)
	if err != nil {
		return err
	}
	info, err := json.MarshalIndent(map[string]any{
		"source":  describe,
		"recipe":  recipe,
		"built":   time.Now().UTC(),
		"seconds": time.Since(start).Seconds(),
		"removed": removed,
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(tmp, "info.json"), append(info, '\n'), 0o644)
}

// packageCaches are downloaded packages and package lists: stale the day
// after a build and tens of MB; whoever installs more runs an update first.
var packageCaches = []string{"var/cache/apt/archives", "var/lib/apt/lists", "var/cache/dnf", "var/cache/yum"}

// keptInCaches are the entries package managers need to find in their cache
// directories.
var keptInCaches = []string{"partial", "lock"}

func trimPackageCaches(root string) error {
	for _, d := range packageCaches {
		entries, err := os.ReadDir(filepath.Join(root, d))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("trim package caches: %w", err)
		}
		for _, e := range entries {
			if slices.Contains(keptInCaches, e.Name()) {
				continue
			}
			if err := os.RemoveAll(filepath.Join(root, d, e.Name())); err != nil {
				return fmt.Errorf("trim package caches: %w", err)
			}
		}
	}
	bins, _ := filepath.Glob(filepath.Join(root, "var/cache/apt/*.bin"))
	for _, b := range bins {
		if err := os.Remove(b); err != nil {
			return fmt.Errorf("trim package caches: %w", err)
		}
	}
	return nil
}

// sortedUnique is a sorted copy of s without duplicates.
func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// join lists for keys and messages.
func join(s []string) string { return strings.Join(s, ",") }
