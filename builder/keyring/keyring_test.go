package keyring

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"
)

// debianKeyring is the build host's Debian archive keyring, several keys.
const debianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

func hostKeyring(t *testing.T) []byte {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Skip("gpg not installed")
	}
	b, err := os.ReadFile(debianKeyring)
	if err != nil {
		t.Skip(err)
	}
	return b
}

func TestPinnedKeepsOnlyThePinnedKeys(t *testing.T) {
	key := hostKeyring(t)
	ctx := context.Background()
	all, err := Fingerprints(ctx, key)
	if err != nil || len(all) < 2 {
		t.Fatalf("fingerprints %v %v", all, err)
	}
	pinned, err := Pinned(ctx, key, []string{all[1]})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Fingerprints(ctx, pinned)
	if err != nil || !slices.Equal(got, []string{all[1]}) {
		t.Fatalf("pinned keyring holds %v (%v), want only %s", got, err, all[1])
	}
}

func TestPinnedRefusesAKeyringWithoutThePin(t *testing.T) {
	key := hostKeyring(t)
	const pin = "F6ECB3762474EDA9D21B7022871920D1991BC93C" // Ubuntu's, not Debian's
	_, err := Pinned(context.Background(), key, []string{pin})
	var missing *MissingError
	if !errors.As(err, &missing) || !slices.Equal(missing.Missing, []string{pin}) || len(missing.Found) < 2 {
		t.Fatalf("error %v: want the missing pin and the keys found", err)
	}
}
