package pemblock

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
)

func TestDecodeRefusesTextAndBrokenBlocks(t *testing.T) {
	block := string(pem.EncodeToMemory(&pem.Block{Type: "X", Bytes: []byte("x")}))
	for v, want := range map[string]bool{
		block:                            true,
		"\n " + block + "\n" + block:     true,
		"text\n" + block:                 false,
		block + "trailing":               false,
		"-----BEGIN X-----\nnot base64!": false,
	} {
		if _, ok := Decode([]byte(v)); ok != want {
			t.Errorf("Decode(%q) = %v, want %v", v, ok, want)
		}
	}
}

func TestKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(k)
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}})
	got, err := Key(append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...))
	if err != nil || !got.(*ecdsa.PrivateKey).Equal(k) {
		t.Fatalf("SEC1 after EC PARAMETERS: %v", err)
	}
	if _, err := Key(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sec1})); !errors.Is(err, ErrKeyType) {
		t.Errorf("a certificate block: %v, want ErrKeyType", err)
	}
}
