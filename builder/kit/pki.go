package kit

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
	"xroad-appliance/provisioner/nodecert"
	"xroad-appliance/provisioner/pemblock"
)

// certKey is a certificate with its private key, parsed and PEM encoded.
type certKey struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte
	KeyPEM  []byte
}

// fingerprint is the SHA-256 of the DER certificate, as `openssl x509 -fingerprint -sha256` shows it (without colons).
func (c *certKey) fingerprint() string {
	sum := sha256.Sum256(c.Cert.Raw)
	return hex.EncodeToString(sum[:])
}

// newCA makes the cluster's root of trust (guide 4.1 step 1), ECDSA P-256.
func newCA(cluster string, now time.Time) (*certKey, error) {
	key, err := nodecert.NewKey()
	if err != nil {
		return nil, err
	}
	serial, err := nodecert.Serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{cluster}, CommonName: cluster + " CA"},
		NotBefore:             now.Add(-nodecert.ClockSkew),
		NotAfter:              now.Add(nodecert.Validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		// MaxPathLenZero: the CA signs node certificates only, no sub-CAs.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		KeyUsage:       x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return withKey(der, key)
}

// issueNodeCert makes a node's PostgreSQL certificate with a fresh key.
func issueNodeCert(ca *certKey, cluster string, n Node, now time.Time) (*certKey, error) {
	key, err := nodecert.NewKey()
	if err != nil {
		return nil, err
	}
	der, err := nodecert.Issue(ca.Cert, ca.Key, &key.PublicKey, cluster, n.Name, n.Address, now)
	if err != nil {
		return nil, err
	}
	return withKey(der, key)
}

// withKey pairs a DER certificate with its private key.
func withKey(der []byte, key *ecdsa.PrivateKey) (*certKey, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := nodecert.KeyPEM(key)
	if err != nil {
		return nil, err
	}
	return &certKey{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  keyPEM,
	}, nil
}

// parseCertKey reads back a certificate and its ECDSA key (for --reuse) and
// checks that they belong together.
func parseCertKey(certPEM, keyPEM []byte) (*certKey, error) {
	cert, err := pemblock.Certificate(certPEM)
	if err != nil {
		return nil, err
	}
	priv, err := pemblock.Key(keyPEM)
	if err != nil {
		return nil, err
	}
	key, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want ECDSA", priv)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("private key does not match the certificate")
	}
	return &certKey{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// reusableNodeCert tells whether an existing node certificate still fits: signed
// by this CA, same CN, the node's current address among its SANs, and valid for
// at least another 30 days.
func reusableNodeCert(ca, c *certKey, n Node, now time.Time) bool {
	if c.Cert.CheckSignatureFrom(ca.Cert) != nil || c.Cert.Subject.CommonName != n.Name {
		return false
	}
	if now.Add(30 * 24 * time.Hour).After(c.Cert.NotAfter) {
		return false
	}
	if ip := net.ParseIP(n.Address); ip != nil {
		return slices.ContainsFunc(c.Cert.IPAddresses, ip.Equal)
	}
	return slices.Contains(c.Cert.DNSNames, n.Address)
}
