// Package pemblock reads PEM values strictly, for role documents and for
// the files a kit reads back: nothing but BEGIN/END blocks and white space,
// and private keys in the forms openssl writes.
package pemblock

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Decode decodes a value made only of PEM blocks and white space. Text
// around or between blocks is refused rather than skipped, as is a
// malformed block that pem.Decode would silently step over.
func Decode(v []byte) ([]*pem.Block, bool) {
	var blocks []*pem.Block
	rest := v
	for {
		rest = bytes.TrimSpace(rest)
		if len(rest) == 0 {
			break
		}
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, false
		}
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, false
		}
		blocks = append(blocks, b)
	}
	if len(blocks) != bytes.Count(v, []byte("-----BEGIN ")) {
		return nil, false
	}
	return blocks, true
}

// ErrKeyType is a block that holds no private key this package reads.
var ErrKeyType = errors.New("must be a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block")

// PrivateKey parses an unencrypted private key block: PKCS#8, PKCS#1 or
// SEC1.
func PrivateKey(b *pem.Block) (any, error) {
	switch b.Type {
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	}
	return nil, ErrKeyType
}

// Certificate parses a value that holds exactly one CERTIFICATE block.
func Certificate(v []byte) (*x509.Certificate, error) {
	blocks, ok := Decode(v)
	if !ok || len(blocks) != 1 || blocks[0].Type != "CERTIFICATE" || len(blocks[0].Headers) > 0 {
		return nil, errors.New("no single PEM certificate")
	}
	return x509.ParseCertificate(blocks[0].Bytes)
}

// Key parses a value that holds exactly one private key block, after an
// optional EC PARAMETERS block (as openssl ecparam -genkey writes).
func Key(v []byte) (any, error) {
	blocks, ok := Decode(v)
	if !ok {
		return nil, errors.New("not PEM: only BEGIN/END blocks and white space")
	}
	var keys []*pem.Block
	for _, b := range blocks {
		if b.Type != "EC PARAMETERS" {
			keys = append(keys, b)
		}
	}
	if len(keys) != 1 {
		return nil, fmt.Errorf("%d PEM private key blocks, want one", len(keys))
	}
	return PrivateKey(keys[0])
}

// SamePublicKey tells whether a and b are one public key (a certificate's
// and a private key's public half, say).
func SamePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
