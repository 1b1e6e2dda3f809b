package metadata

import (
	"bytes"
	"crypto"
	"crypto/dsa"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
	"xroad-appliance/provisioner/pemblock"
	"xroad-appliance/provisioner/sshkey"

	"golang.org/x/crypto/ssh"
)

// Messages about secret fields (tls.key, ssh.hostKey, ssh.privateKey) are
// constant text: library errors about a private key are never passed on.

// publicKey checks one authorized_keys line and returns the key's wire form,
// or nil when it is absent or invalid.
func (c *checker) publicKey(field, v string, required bool) []byte {
	if v == "" {
		if required {
			c.fail(field, "required")
		}
		return nil
	}
	pub, err := sshkey.ParseAuthorized(v)
	if err != nil {
		c.fail(field, "%s", err)
		return nil
	}
	return pub.Marshal()
}

// privateSSHKey checks an unencrypted OpenSSH/PEM private key of an allowed
// type and returns its public half in wire form.
func (c *checker) privateSSHKey(field, v string) []byte {
	if v == "" {
		c.fail(field, "required")
		return nil
	}
	if blocks, ok := pemblock.Decode([]byte(v)); !ok || len(blocks) != 1 {
		c.fail(field, "must be exactly one PEM-encoded private key")
		return nil
	}
	raw, err := ssh.ParseRawPrivateKey([]byte(v))
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		c.fail(field, "is protected by a passphrase; the node cannot unlock it")
		return nil
	case err != nil:
		c.fail(field, "not a readable OpenSSH private key")
		return nil
	}
	var pub crypto.PublicKey
	switch k := raw.(type) {
	case *ed25519.PrivateKey:
		pub = k.Public()
	case ed25519.PrivateKey:
		pub = k.Public()
	case *ecdsa.PrivateKey:
		pub = k.Public()
	case *rsa.PrivateKey:
		c.fail(field, "%s", sshkey.TypeRefused(ssh.KeyAlgoRSA))
		return nil
	case *dsa.PrivateKey:
		c.fail(field, "%s", sshkey.TypeRefused(ssh.KeyAlgoDSA))
		return nil
	default:
		c.fail(field, "%s", sshkey.TypeRefused(""))
		return nil
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil || !sshkey.Allowed[sp.Type()] {
		c.fail(field, "key type or curve not allowed; %s", sshkey.TypesHint)
		return nil
	}
	return sp.Marshal()
}

func (c *checker) primarySSH(d *Document, primaryHostKey []byte) {
	if pub := c.privateSSHKey("ssh.hostKey", d.SSH.HostKey); pub != nil && primaryHostKey != nil &&
		!bytes.Equal(pub, primaryHostKey) {
		c.fail("primary.hostKey", "does not match the public half of ssh.hostKey")
	}
	// The primary's own user key is optional: it lets the node rejoin as a
	// secondary after another one is promoted.
	if d.SSH.PrivateKey != "" || d.SSH.PublicKey != "" {
		c.userKey(d, primaryHostKey)
	}
	if own := c.publicKey("primary.sshPublicKey", d.Primary.SSHPublicKey, false); own != nil {
		if bytes.Equal(own, primaryHostKey) {
			c.fail("primary.sshPublicKey", "is the primary's host key")
		}
		if d.SSH.PublicKey != "" && strings.TrimSpace(d.SSH.PublicKey) != strings.TrimSpace(d.Primary.SSHPublicKey) {
			c.fail("primary.sshPublicKey", "does not match ssh.publicKey")
		}
	}
}

func (c *checker) secondarySSH(d *Document, primaryHostKey []byte) {
	pub := c.userKey(d, primaryHostKey)
	c.publicKey("primary.sshPublicKey", d.Primary.SSHPublicKey, false)
	var hostKey []byte
	if d.SSH.HostKey != "" {
		hostKey = c.privateSSHKey("ssh.hostKey", d.SSH.HostKey)
	}
	if d.SSH.HostKey != "" && len(d.Secondaries) == 0 {
		c.fail("ssh.hostKey", "needs the secondaries list, where the other nodes find its public half")
	}
	if hostKey != nil && bytes.Equal(hostKey, primaryHostKey) {
		c.fail("ssh.hostKey", "is the primary's host key; every node has its own")
	}
	if len(d.Secondaries) == 0 {
		return
	}
	// A secondary's list includes itself, with its own keys.
	for i, m := range d.Secondaries {
		if m.Name != d.Node {
			continue
		}
		p := fmt.Sprintf("secondaries[%d]", i)
		if pub != nil && strings.TrimSpace(m.SSHPublicKey) != strings.TrimSpace(d.SSH.PublicKey) {
			c.fail(p+".sshPublicKey", "does not match ssh.publicKey of this node")
		}
		switch listed := c.publicKeyQuiet(m.HostKey); {
		case hostKey == nil:
		case listed == nil:
			c.fail(p+".hostKey", "required when ssh.hostKey is set")
		case !bytes.Equal(listed, hostKey):
			c.fail(p+".hostKey", "does not match the public half of ssh.hostKey")
		}
		return
	}
	c.fail("secondaries", "must list this node (%s) when given on a secondary", d.Node)
}

// userKey checks the xroad user's key pair and returns its public half.
func (c *checker) userKey(d *Document, primaryHostKey []byte) []byte {
	priv := c.privateSSHKey("ssh.privateKey", d.SSH.PrivateKey)
	pub := c.publicKey("ssh.publicKey", d.SSH.PublicKey, true)
	if priv != nil && pub != nil && !bytes.Equal(priv, pub) {
		c.fail("ssh.publicKey", "does not match ssh.privateKey")
	}
	if pub != nil && bytes.Equal(pub, primaryHostKey) {
		c.fail("ssh.publicKey", "is the primary's host key")
	}
	return pub
}

// publicKeyQuiet parses a public key already checked (and reported) elsewhere.
func (c *checker) publicKeyQuiet(v string) []byte {
	quiet := &checker{opts: c.opts}
	return quiet.publicKey("", v, false)
}

// certificateQuiet parses a certificate already checked (and reported) elsewhere.
func (c *checker) certificateQuiet(v string) *x509.Certificate {
	quiet := &checker{opts: c.opts}
	return quiet.certificate("", v)
}

// pemBlocks decodes a required field that must be PEM and nothing else;
// false (with the problem recorded) when it is not.
func (c *checker) pemBlocks(field, v string) ([]*pem.Block, bool) {
	if v == "" {
		c.fail(field, "required")
		return nil, false
	}
	blocks, ok := pemblock.Decode([]byte(v))
	if !ok {
		c.fail(field, "must be PEM-encoded: only BEGIN/END blocks and white space")
	}
	return blocks, ok
}

// certificate parses a field that must hold exactly one certificate.
func (c *checker) certificate(field, v string) *x509.Certificate {
	blocks, ok := c.pemBlocks(field, v)
	if !ok {
		return nil
	}
	if len(blocks) != 1 || blocks[0].Type != "CERTIFICATE" || len(blocks[0].Headers) > 0 {
		c.fail(field, "must hold exactly one PEM CERTIFICATE block, found %d block(s)", len(blocks))
		return nil
	}
	cert, err := x509.ParseCertificate(blocks[0].Bytes)
	if err != nil {
		c.fail(field, "not a valid X.509 certificate: %v", err)
		return nil
	}
	return cert
}

// privateKey parses a PEM private key (tls.key, join.caKey) in the forms
// openssl writes: PKCS#8, PKCS#1 and SEC1 (the latter possibly after an EC
// PARAMETERS block).
func (c *checker) privateKey(field, v string) crypto.Signer {
	blocks, ok := c.pemBlocks(field, v)
	if !ok {
		return nil
	}
	var keys []*pem.Block
	for _, b := range blocks {
		if b.Type != "EC PARAMETERS" {
			keys = append(keys, b)
		}
	}
	if len(keys) != 1 {
		c.fail(field, "must hold exactly one PEM private key block")
		return nil
	}
	b := keys[0]
	if b.Type == "ENCRYPTED PRIVATE KEY" || len(b.Headers) > 0 {
		c.fail(field, "is encrypted; the node needs an unencrypted key")
		return nil
	}
	key, err := pemblock.PrivateKey(b)
	if errors.Is(err, pemblock.ErrKeyType) {
		c.fail(field, "%v", err)
		return nil
	}
	if err != nil {
		c.fail(field, "not a readable %s", strings.ToLower(b.Type))
		return nil
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			c.fail(field, "RSA keys must have at least 2048 bits")
			return nil
		}
		return k
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P224() {
			c.fail(field, "the P-224 curve is not allowed")
			return nil
		}
		return k
	case ed25519.PrivateKey:
		return k
	}
	c.fail(field, "unsupported key type; use ECDSA, Ed25519 or RSA")
	return nil
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

func (c *checker) tls(d *Document) {
	ca := c.certificate("tls.ca", d.TLS.CA)
	cert := c.certificate("tls.cert", d.TLS.Cert)
	key := c.privateKey("tls.key", d.TLS.Key)

	inPeriod := true
	if ca != nil {
		if !ca.BasicConstraintsValid || !ca.IsCA {
			c.fail("tls.ca", "not a CA certificate (basicConstraints CA:TRUE missing)")
		} else if ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCertSign == 0 {
			c.fail("tls.ca", "key usage does not allow signing certificates")
		}
		inPeriod = c.validityPeriod("tls.ca", ca) && inPeriod
	}
	if cert == nil {
		return
	}
	c.nodeCertificate(d, cert)
	inPeriod = c.validityPeriod("tls.cert", cert) && inPeriod

	if ca != nil {
		switch {
		case cert.Equal(ca):
			c.fail("tls.cert", "is the CA certificate itself; issue the node its own certificate")
		case pemblock.SamePublicKey(cert.PublicKey, ca.PublicKey):
			c.fail("tls.cert", "uses the CA's key pair; the node needs its own key")
		default:
			// Check the signature even when the period is wrong or skipped, at
			// a moment both certificates claim to be valid.
			at := c.opts.now
			if !inPeriod || c.opts.skipValidityPeriod {
				at = latest(ca.NotBefore, cert.NotBefore)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			_, err := cert.Verify(x509.VerifyOptions{
				Roots:       pool,
				CurrentTime: at,
				KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			if err != nil {
				c.fail("tls.cert", "does not verify against tls.ca: %v", err)
			}
		}
	}
	if key != nil && !pemblock.SamePublicKey(cert.PublicKey, key.Public()) {
		c.fail("tls.key", "is not the private key of tls.cert")
	}
}

// nodeCertificate checks what PostgreSQL relies on: cert authentication maps
// the subject CN to the replication user, and the same certificate serves as
// server certificate and, on a secondary, as client certificate.
func (c *checker) nodeCertificate(d *Document, cert *x509.Certificate) {
	if cert.IsCA {
		c.fail("tls.cert", "must not be a CA certificate")
	}
	cns := 0
	for _, a := range cert.Subject.Names {
		if a.Type.Equal(oidCommonName) {
			cns++
		}
	}
	switch {
	case cns != 1:
		c.fail("tls.cert", "subject must have exactly one CN (the node name)")
	case d.Node != "" && cert.Subject.CommonName != d.Node:
		c.fail("tls.cert", "subject CN must equal node (PostgreSQL maps it to the replication user)")
	}
	if len(cert.ExtKeyUsage) > 0 || len(cert.UnknownExtKeyUsage) > 0 {
		has := map[x509.ExtKeyUsage]bool{}
		for _, u := range cert.ExtKeyUsage {
			has[u] = true
		}
		if !has[x509.ExtKeyUsageAny] && !(has[x509.ExtKeyUsageServerAuth] && has[x509.ExtKeyUsageClientAuth]) {
			c.fail("tls.cert", "extended key usage must allow TLS server and client authentication (any node can be promoted)")
		}
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		c.fail("tls.cert", "key usage must include digitalSignature")
	}
}

func (c *checker) validityPeriod(field string, cert *x509.Certificate) bool {
	if c.opts.skipValidityPeriod {
		return true
	}
	const day = "2006-01-02"
	switch now := c.opts.now; {
	case now.Before(cert.NotBefore):
		c.fail(field, "not valid before %s (is the clock right?)", cert.NotBefore.UTC().Format(day))
		return false
	case now.After(cert.NotAfter):
		c.fail(field, "expired on %s", cert.NotAfter.UTC().Format(day))
		return false
	}
	return true
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
