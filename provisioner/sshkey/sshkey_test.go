package sshkey

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestNewParseRoundTrip(t *testing.T) {
	for _, c := range []struct {
		typ  string
		bits int
	}{{"ed25519", 0}, {"ecdsa", 256}, {"ecdsa", 384}, {"ecdsa", 521}} {
		p, err := New(c.typ, c.bits, "xroad@ss1")
		if err != nil {
			t.Fatal(err)
		}
		if want := Algo(c.typ, c.bits); p.Key.Type() != want || !strings.HasPrefix(p.Public, want+" ") || strings.Contains(p.Public, "xroad@ss1") {
			t.Errorf("%s %d: public %q", c.typ, c.bits, p.Public)
		}
		if !strings.HasPrefix(string(p.Private), "-----BEGIN OPENSSH PRIVATE KEY-----\n") {
			t.Errorf("%s %d: private key not in OpenSSH form", c.typ, c.bits)
		}
		back, err := Parse(p.Private, c.typ, c.bits)
		if err != nil || back.Public != p.Public || back.Fingerprint() != p.Fingerprint() {
			t.Errorf("%s %d: read back %v, %v", c.typ, c.bits, back, err)
		}
		if strings.Contains(p.String(), "PRIVATE") || !strings.Contains(p.String(), "SHA256:") {
			t.Errorf("String() = %q", p.String())
		}
		pub, err := ParseAuthorized(p.Public + " xroad@ss1\n")
		if err != nil || AuthorizedKey(pub) != p.Public {
			t.Errorf("%s %d: ParseAuthorized: %v", c.typ, c.bits, err)
		}
	}
}

func TestNewRefusesOtherTypes(t *testing.T) {
	for _, c := range []struct {
		typ  string
		bits int
	}{{"rsa", 3072}, {"ecdsa", 224}, {"dsa", 1024}} {
		if _, err := New(c.typ, c.bits, ""); err == nil {
			t.Errorf("made a %s %d key", c.typ, c.bits)
		}
	}
}

func TestParseChecksTheProfileType(t *testing.T) {
	p, _ := New("ed25519", 0, "")
	if _, err := Parse(p.Private, "ecdsa", 256); err == nil || !strings.Contains(err.Error(), "ecdsa-sha2-nistp256") {
		t.Errorf("ed25519 key read as ecdsa: %v", err)
	}
	if _, err := Parse([]byte("garbage"), "ed25519", 0); err == nil {
		t.Error("garbage read as a key")
	}
}

func TestParseAuthorizedRefuses(t *testing.T) {
	ed, _ := New("ed25519", 0, "")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, _ := ssh.NewPublicKey(&rsaKey.PublicKey)
	rsaLine := AuthorizedKey(rsaPub)
	for line, want := range map[string]string{
		"":                             "required",
		"garbage":                      "not an OpenSSH public key",
		ed.Public + "\n" + ed.Public:   "single authorized_keys line",
		`command="x" ` + ed.Public:     "without authorized_keys options",
		rsaLine:                        "RSA keys are refused",
		ed.Public + " comment\x1b[31m": "control characters",
	} {
		_, err := ParseAuthorized(line)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseAuthorized(%q) = %v, want %q", line, err, want)
		}
	}
	if _, err := ParseAuthorized(ed.Public); err != nil {
		t.Errorf("bare key refused: %v", err)
	}
}
