package join

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"xroad-appliance/provisioner/pemblock"
	"xroad-appliance/provisioner/sshkey"
)

// checkCSR reads a PEM certificate request for node name and says what is
// wrong with it ("" when nothing is).
func checkCSR(v, name string) (*x509.CertificateRequest, string) {
	blocks, ok := pemblock.Decode([]byte(v))
	if !ok || len(blocks) != 1 || blocks[0].Type != "CERTIFICATE REQUEST" {
		return nil, "want one PEM CERTIFICATE REQUEST block"
	}
	csr, err := x509.ParseCertificateRequest(blocks[0].Bytes)
	if err != nil {
		return nil, "not a readable certificate request"
	}
	if csr.CheckSignature() != nil {
		return nil, "signature does not verify"
	}
	if csr.Subject.CommonName != name {
		return nil, "its CN must be the node name " + name
	}
	// The key ends up in PostgreSQL's TLS, which takes these.
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return csr, ""
	case *rsa.PublicKey:
		if k.N.BitLen() >= 2048 {
			return csr, ""
		}
	}
	return nil, "the key must be ECDSA or RSA of at least 2048 bits"
}

// checkSSHKeys says what is wrong with a node's two SSH public keys.
func checkSSHKeys(user, host string) string {
	u, err := sshkey.ParseAuthorized(user)
	if err != nil {
		return "sshPublicKey: " + err.Error()
	}
	h, err := sshkey.ParseAuthorized(host)
	if err != nil {
		return "hostKey: " + err.Error()
	}
	if bytes.Equal(u.Marshal(), h.Marshal()) {
		return "hostKey: must differ from sshPublicKey"
	}
	return ""
}
