// Package sshkey makes and reads the SSH keys of the product's nodes (host
// keys and the xroad user's key): ed25519 or ECDSA only, RSA and DSA never.
package sshkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Pair is an SSH key pair: the private key in OpenSSH format and the public
// key as an authorized_keys line without comment.
type Pair struct {
	Private []byte
	Public  string
	Key     ssh.PublicKey
}

// String names the key by its fingerprint, so that printing a Pair never
// shows the private key.
func (p *Pair) String() string { return p.Key.Type() + " " + p.Fingerprint() }

// Fingerprint is the SHA256:... form ssh-keygen -l prints.
func (p *Pair) Fingerprint() string { return ssh.FingerprintSHA256(p.Key) }

// New generates a key of the profile's type ("ed25519", or "ecdsa" with 256,
// 384 or 521 bits). RSA is never offered: FIPS RHEL 8/9 wants ECDSA nistp256
// and everything else takes ed25519.
func New(keyType string, bits int, comment string) (*Pair, error) {
	var priv crypto.Signer
	switch keyType {
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		priv = k
	case "ecdsa":
		var curve elliptic.Curve
		switch bits {
		case 256:
			curve = elliptic.P256()
		case 384:
			curve = elliptic.P384()
		case 521:
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("ecdsa key size %d: want 256, 384 or 521", bits)
		}
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		priv = k
	default:
		return nil, fmt.Errorf("ssh key type %q: want ed25519 or ecdsa", keyType)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	return &Pair{Private: pem.EncodeToMemory(block), Public: AuthorizedKey(pub), Key: pub}, nil
}

// Parse reads back an OpenSSH private key and checks that it is of the
// profile's type. Its errors never quote the key.
func Parse(private []byte, keyType string, bits int) (*Pair, error) {
	signer, err := ssh.ParsePrivateKey(private)
	if err != nil {
		return nil, err
	}
	pub := signer.PublicKey()
	if want := Algo(keyType, bits); pub.Type() != want {
		return nil, fmt.Errorf("key is %s, the profile wants %s", pub.Type(), want)
	}
	return &Pair{Private: private, Public: AuthorizedKey(pub), Key: pub}, nil
}

// Algo is the wire name of a profile key type.
func Algo(keyType string, bits int) string {
	if keyType == "ed25519" {
		return ssh.KeyAlgoED25519
	}
	return fmt.Sprintf("ecdsa-sha2-nistp%d", bits)
}

// AuthorizedKey is pub as an authorized_keys line without comment or newline.
func AuthorizedKey(pub ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

// Allowed are the SSH key types the product takes: RSA and DSA are refused.
var Allowed = map[string]bool{
	ssh.KeyAlgoED25519:  true,
	ssh.KeyAlgoECDSA256: true,
	ssh.KeyAlgoECDSA384: true,
	ssh.KeyAlgoECDSA521: true,
}

// ParseAuthorized reads one public key given as an authorized_keys line (a
// comment is allowed, options are not) of a type the product accepts.
func ParseAuthorized(line string) (ssh.PublicKey, error) {
	line = strings.TrimSuffix(line, "\n") // a YAML block scalar ends in one newline
	switch {
	case line == "":
		return nil, errors.New("required")
	case strings.ContainsAny(line, "\r\n"):
		return nil, errors.New("must be a single authorized_keys line")
	case strings.IndexFunc(line, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) >= 0:
		return nil, errors.New("must not contain control characters")
	}
	pub, _, options, _, err := ssh.ParseAuthorizedKey([]byte(line))
	switch {
	case err != nil:
		return nil, errors.New("not an OpenSSH public key in authorized_keys form")
	case len(options) > 0:
		return nil, errors.New("must be a bare key without authorized_keys options")
	case !Allowed[pub.Type()]:
		return nil, errors.New(TypeRefused(pub.Type()))
	}
	return pub, nil
}

// TypesHint names the key types a node takes.
const TypesHint = "use ssh-ed25519 or ecdsa-sha2-nistp256/384/521"

// TypeRefused says why a key of type t (an SSH key algorithm, or "" when
// unknown) is refused.
func TypeRefused(t string) string {
	switch t {
	case ssh.KeyAlgoRSA:
		return "RSA keys are refused; " + TypesHint
	case ssh.KeyAlgoDSA:
		return "DSA keys are refused; " + TypesHint
	}
	return "key type not allowed; " + TypesHint
}
