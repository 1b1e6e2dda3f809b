// Package cache keeps expensive artefacts (base root file systems, package
// layers, compressed layer blobs) outside the repository, keyed by a hash of
// their inputs. An entry is built in a temporary sibling directory and renamed
// into place, so an entry that exists is complete; a file lock serialises
// builders.
package cache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"log/slog"
	"os"
	"path/filepath"
	"xroad-appliance/provisioner/atomicfile"
)

// EnvRoot overrides the image builder's cache root.
const EnvRoot = "XROAD_IMAGE_CACHE"

// Root returns the image builder's cache root: $XROAD_IMAGE_CACHE, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/xroad-image.
func Root() (string, error) { return RootFrom(EnvRoot, "xroad-image") }

// RootFrom returns $env if set, else ${XDG_CACHE_HOME:-$HOME/.cache}/name.
func RootFrom(env, name string) (string, error) {
	if dir := os.Getenv(env); dir != "" {
		return filepath.Abs(dir)
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cache root: set %s or HOME: %w", env, err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, name), nil
}

// ResolveRoot returns root if it is set and Root otherwise.
func ResolveRoot(root string) (string, error) {
	if root != "" {
		return filepath.Abs(root)
	}
	return Root()
}

// Ensure returns the directory dir, building it first if it does not exist.
// build receives an empty temporary directory next to dir and fills it; on
// success the temporary directory is renamed to dir. Concurrent callers (other
// goroutines or processes) wait for the first builder instead of building twice.
func Ensure(ctx context.Context, dir string, build func(ctx context.Context, tmp string) error) (string, error) {
	dir, _, err := Get(ctx, dir, build)
	return dir, err
}

// Get is Ensure that also reports whether the entry was already there.
func Get(ctx context.Context, dir string, build func(ctx context.Context, tmp string) error) (path string, hit bool, err error) {
	if exists(dir) {
		return dir, true, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", false, fmt.Errorf("cache %s: %w", dir, err)
	}
	unlock, err := Lock(ctx, dir+".lock")
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if exists(dir) { // built by whoever held the lock before us
		return dir, true, nil
	}
	if err := removeStale(dir); err != nil {
		return "", false, err
	}
	tmp := dir + ".tmp-" + randomSuffix()
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", false, fmt.Errorf("cache %s: %w", dir, err)
	}
	if err := build(ctx, tmp); err != nil {
		if rmErr := RemoveTree(tmp); rmErr != nil {
			slog.Warn("cache: leaving failed build behind", "dir", tmp, "err", rmErr)
		}
		return "", false, fmt.Errorf("cache %s: %w", filepath.Base(dir), err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", false, fmt.Errorf("cache %s: %w", dir, err)
	}
	_ = atomicfile.SyncDir(filepath.Dir(dir)) // best effort: a lost entry is only a cache miss
	return dir, false, nil
}

// removeStale deletes temporary directories left by builders that died. It
// runs under the entry's lock, so no live builder owns them.
func removeStale(dir string) error {
	stale, err := filepath.Glob(dir + ".tmp-*")
	if err != nil {
		return err
	}
	for _, s := range stale {
		slog.Info("cache: removing stale build", "dir", s)
		if err := RemoveTree(s); err != nil {
			return fmt.Errorf("cache: stale build %s: %w", s, err)
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// RandomSuffix returns 12 random hex digits for temporary names.
func RandomSuffix() string { return randomSuffix() }

func randomSuffix() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}

// Hasher derives a cache key from named inputs. Each field is length-prefixed
// so that ("ab","c") and ("a","bc") give different keys.
type Hasher struct{ h hash.Hash }

// NewHasher starts a key; kind names what is cached and is hashed too.
func NewHasher(kind string) *Hasher {
	k := &Hasher{h: sha256.New()}
	k.Add("kind", []byte(kind))
	return k
}

// Add hashes one named input.
func (k *Hasher) Add(name string, value []byte) *Hasher {
	for _, field := range [][]byte{[]byte(name), value} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(field)))
		k.h.Write(n[:])
		k.h.Write(field)
	}
	return k
}

// AddString hashes one named string input.
func (k *Hasher) AddString(name, value string) *Hasher { return k.Add(name, []byte(value)) }

// Sum returns the key: 16 hex digits are plenty to tell inputs apart here.
func (k *Hasher) Sum() string { return hex.EncodeToString(k.h.Sum(nil))[:16] }
