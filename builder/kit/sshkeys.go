package kit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// sshKey is an SSH key pair: the private key in OpenSSH format and the public
// key as an authorized_keys line without comment.
type sshKey struct {
	Private []byte
	Public  string
	pub     ssh.PublicKey
}

// Fingerprint is the SHA256:... form ssh-keygen -l prints.
func (k *sshKey) Fingerprint() string { return ssh.FingerprintSHA256(k.pub) }

// newSSHKey generates a key of the profile's type. RSA is never offered: FIPS
// RHEL 8/9 wants ECDSA nistp256 and everything else takes ed25519.
func newSSHKey(keyType string, bits int, comment string) (*sshKey, error) {
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
	return &sshKey{Private: pem.EncodeToMemory(block), Public: authorizedKey(pub), pub: pub}, nil
}

// parseSSHKey reads back an OpenSSH private key (for --reuse) and checks its type.
func parseSSHKey(private []byte, keyType string, bits int) (*sshKey, error) {
	signer, err := ssh.ParsePrivateKey(private)
	if err != nil {
		return nil, err
	}
	pub := signer.PublicKey()
	if want := sshAlgo(keyType, bits); pub.Type() != want {
		return nil, fmt.Errorf("key is %s, the profile wants %s", pub.Type(), want)
	}
	return &sshKey{Private: private, Public: authorizedKey(pub), pub: pub}, nil
}

// sshAlgo is the wire name of a profile key type.
func sshAlgo(keyType string, bits int) string {
	if keyType == "ed25519" {
		return ssh.KeyAlgoED25519
	}
	return fmt.Sprintf("ecdsa-sha2-nistp%d", bits)
}

func authorizedKey(pub ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}
