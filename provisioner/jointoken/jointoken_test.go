package jointoken

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestNewParseRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		tok, err := New()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(tok.Value())
		if err != nil || back != tok {
			t.Fatalf("Parse(New()) = %v, %v", back.ID, err)
		}
		if seen[tok.ID] {
			t.Fatalf("ID %s made twice", tok.ID)
		}
		seen[tok.ID] = true
	}
}

func TestParseRefusesWithoutQuoting(t *testing.T) {
	for _, s := range []string{"", "abcdef", "abcdef.0123456789abcdeF", "abcde.0123456789abcdef", "abcdef.0123456789abcdef0", "abcdef:0123456789abcdef"} {
		_, err := Parse(s)
		if err == nil {
			t.Fatalf("Parse(%q) accepted", s)
		}
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error quotes the value: %v", err)
		}
	}
}

func TestSecretStaysOutOfFormatting(t *testing.T) {
	tok := Token{ID: "abcdef", Secret: "0123456789abcdef"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "token", tok)
	for _, s := range []string{fmt.Sprintf("%#v", tok), fmt.Sprintf("%v %s", tok, tok), fmt.Errorf("x: %v", tok).Error(), b.String()} {
		if strings.Contains(s, tok.Secret) {
			t.Fatalf("secret in %q", s)
		}
	}
}

func TestMAC(t *testing.T) {
	a, _ := New()
	b, _ := New()
	mac := a.MAC([]byte("body"))
	if !a.Verify([]byte("body"), mac) {
		t.Fatal("own MAC refused")
	}
	if a.Verify([]byte("body!"), mac) || b.Verify([]byte("body"), mac) || a.Verify([]byte("body"), "zz") {
		t.Fatal("MAC accepted for other data, another token or garbage")
	}
}

func TestPin(t *testing.T) {
	cert := selfSigned(t)
	pin := Pin(cert)
	if CheckPin(pin) != "" || !Matches(cert, pin) {
		t.Fatalf("pin %s of its own certificate refused", pin)
	}
	if Matches(selfSigned(t), pin) {
		t.Fatal("pin matched another key")
	}
	for _, bad := range []string{"", "sha256:", "sha1:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("A", 64)} {
		if CheckPin(bad) == "" {
			t.Fatalf("CheckPin(%q) accepted", bad)
		}
	}
}

func selfSigned(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
