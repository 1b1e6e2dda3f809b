// Package jointoken is the join token a secondary presents to its primary
// and the pin by which it recognises the cluster's CA: the two values the
// one user-data of every joining secondary carries.
package jointoken

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"log/slog"
	"regexp"
	"strings"
)

// Token is a bootstrap token in kubeadm's form "ID.SECRET": the ID (6
// characters) names it in requests and logs, the secret (16 characters)
// never leaves the primary and the joiner: it keys the MACs both sides check.
type Token struct {
	ID, Secret string
}

var tokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)

// ErrMalformed is the one error a malformed token yields; it never quotes
// the value, which may be a real secret typed wrongly.
var ErrMalformed = errors.New(`not a join token: want "ID.SECRET", 6 and 16 lowercase letters or digits`)

// Parse reads "ID.SECRET".
func Parse(s string) (Token, error) {
	m := tokenRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Token{}, ErrMalformed
	}
	return Token{ID: m[1], Secret: m[2]}, nil
}

// Value is the token's full form "ID.SECRET", for the files that carry it.
func (t Token) Value() string { return t.ID + "." + t.Secret }

// String names the token by its ID only, so that no %v, error or log line
// prints the secret.
func (t Token) String() string { return "token " + t.ID }

// GoString keeps the secret out of %#v.
func (t Token) GoString() string { return "jointoken.Token{ID: " + t.ID + "}" }

// LogValue keeps the secret out of structured logs.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.ID) }

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// New makes a random token (about 83 bits of secret).
func New() (Token, error) {
	s, err := random(6 + 16)
	if err != nil {
		return Token{}, err
	}
	return Token{ID: s[:6], Secret: s[6:]}, nil
}

func random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		// 256 % 36 = 4: the bias is below 2 %, as in kubeadm's generator.
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// MAC is HMAC-SHA256 of data keyed with the token's secret, hex encoded:
// what proves, without sending the secret, that a party holds the token.
func (t Token) MAC(data []byte) string {
	m := hmac.New(sha256.New, []byte(t.Secret))
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a MAC made by MAC, in constant time.
func (t Token) Verify(data []byte, mac string) bool {
	got, err := hex.DecodeString(mac)
	if err != nil {
		return false
	}
	want, _ := hex.DecodeString(t.MAC(data))
	return hmac.Equal(got, want)
}

// Pin is "sha256:" and the hex SHA-256 of the certificate's
// SubjectPublicKeyInfo: kubeadm's --discovery-token-ca-cert-hash.
func Pin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

var pinRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// CheckPin says what is wrong with a pin's form ("" when it is fine).
func CheckPin(pin string) string {
	if !pinRE.MatchString(pin) {
		return `want "sha256:" and 64 lowercase hex digits (the SHA-256 of the CA's public key)`
	}
	return ""
}

// Matches tells whether cert is the CA pin names.
func Matches(cert *x509.Certificate, pin string) bool {
	return hmac.Equal([]byte(Pin(cert)), []byte(pin))
}
