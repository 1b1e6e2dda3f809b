// Package keyring reads OpenPGP keyrings with the build host's gpg, in a
// throw-away home so that nothing of the host's own trust is used or
// changed: which primary keys a keyring holds, and a keyring cut down to the
// keys a profile pins.
package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"xroad-appliance/builder/run"
)

// gpg runs one or more gpg commands in one fresh home, each with its input.
type gpg struct{ home string }

func newGPG() (*gpg, error) {
	home, err := os.MkdirTemp("", "xroad-image-gpg-")
	return &gpg{home: home}, err
}

func (g *gpg) close() { os.RemoveAll(g.home) }

func (g *gpg) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	argv := append([]string{"--batch", "--no-tty", "--homedir", g.home}, args...)
	return (run.Cmd{Stdin: bytes.NewReader(stdin)}).Output(ctx, "gpg", argv...)
}

// once runs a single gpg command in a home of its own.
func once(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	g, err := newGPG()
	if err != nil {
		return nil, err
	}
	defer g.close()
	return g.run(ctx, stdin, args...)
}

// Normalize writes a fingerprint as gpg prints it: upper case, no spaces.
func Normalize(fpr string) string {
	return strings.ToUpper(strings.ReplaceAll(fpr, " ", ""))
}

// Fingerprints lists the primary key fingerprints in a keyring (binary or
// armored).
func Fingerprints(ctx context.Context, key []byte) ([]string, error) {
	out, err := once(ctx, key, "--with-colons", "--show-keys")
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	var fprs []string
	pub := false
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ":")
		switch {
		case f[0] == "pub":
			pub = true
		case f[0] == "fpr" && pub && len(f) > 9:
			fprs = append(fprs, f[9])
			pub = false
		}
	}
	return fprs, nil
}

// MissingError is a keyring that lacks a pinned key.
type MissingError struct {
	Missing, Found []string
}

func (e *MissingError) Error() string {
	found := "no keys"
	if len(e.Found) > 0 {
		found = strings.Join(e.Found, ", ")
	}
	return fmt.Sprintf("pinned %s not in the keyring, which holds %s", strings.Join(e.Missing, ", "), found)
}

// Pinned returns a binary keyring holding exactly the keys pinned by
// fingerprint, taken from key; every other key is dropped. A pinned key
// that key lacks is a *MissingError naming what it holds.
func Pinned(ctx context.Context, key []byte, pins []string) ([]byte, error) {
	found, err := Fingerprints(ctx, key)
	if err != nil {
		return nil, err
	}
	var want, missing []string
	for _, p := range pins {
		p = Normalize(p)
		want = append(want, p)
		if !slices.Contains(found, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return nil, &MissingError{Missing: missing, Found: found}
	}
	g, err := newGPG()
	if err != nil {
		return nil, err
	}
	defer g.close()
	if _, err := g.run(ctx, key, "--import"); err != nil {
		return nil, fmt.Errorf("import keyring: %w", err)
	}
	out, err := g.run(ctx, nil, append([]string{"--export"}, want...)...)
	if err != nil {
		return nil, fmt.Errorf("export pinned keys: %w", err)
	}
	return out, nil
}

// Dearmor turns an armored key into the binary form apt's signed-by reads
// from *.gpg files; a binary key is returned as it is.
func Dearmor(ctx context.Context, key []byte) ([]byte, error) {
	if !bytes.Contains(key, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		return key, nil
	}
	return once(ctx, key, "--dearmor")
}

// ErrUnreachable is a server that did not answer a Fetch.
var ErrUnreachable = errors.New("unreachable")

// Fetch downloads key material (a published key, a keyring package) of at
// most limit bytes. Nothing fetched is trusted by itself: callers keep only
// keys pinned by fingerprint or configured by the operator.
func Fetch(ctx context.Context, url string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit))
}
