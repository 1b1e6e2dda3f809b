// Package nodecert issues a node's PostgreSQL certificate, signed by the
// cluster CA: the one template the kit and the primary's join service share,
// so that a node admitted either way carries the same certificate.
package nodecert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"time"
)

// Validity is the guide's `-days 7300` (4.1), for the CA and node certificates.
const Validity = 7300 * 24 * time.Hour

// ClockSkew back-dates NotBefore so a node whose clock lags a little still
// accepts a fresh certificate.
const ClockSkew = time.Hour

// NewKey is a fresh node (or CA) key: ECDSA P-256, which every supported
// PostgreSQL takes.
func NewKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// KeyPEM is key in the PKCS#8 PEM form the nodes' key files have.
func KeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Serial is a random 127-bit serial number: positive and at most 16 bytes
// in DER, as RFC 5280 asks.
func Serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// Issue signs pub into a node certificate (guide 4.1 step 2) and returns it
// in DER. The CN is the node name, which the primary maps to the
// replication user; a node is both TLS server and replication client, hence
// both extended key usages. address (IP or host name) joins the name among
// the SANs. The certificate never outlives the CA.
func Issue(caCert *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey, cluster, name, address string, now time.Time) ([]byte, error) {
	if name == "" || address == "" {
		return nil, errors.New("node certificate: name and address are required")
	}
	serial, err := Serial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(Validity)
	if notAfter.After(caCert.NotAfter) {
		notAfter = caCert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{cluster}, CommonName: name},
		NotBefore:    now.Add(-ClockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{name},
	}
	if ip := net.ParseIP(address); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else if address != name {
		tmpl.DNSNames = append(tmpl.DNSNames, address)
	}
	return x509.CreateCertificate(rand.Reader, tmpl, caCert, pub, caKey)
}
