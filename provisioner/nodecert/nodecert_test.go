package nodecert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"slices"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)

func newCA(t *testing.T, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := Serial()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "demo CA"},
		NotBefore: now.Add(-ClockSkew), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name, address string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := Issue(ca, caKey, &key.PublicKey, "demo", name, address, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		t.Fatal("certificate carries another key")
	}
	return cert
}

func TestIssueTemplate(t *testing.T) {
	ca, caKey := newCA(t, now.Add(2*Validity))
	cert := issue(t, ca, caKey, "ss2", "10.77.0.12")
	if cert.Subject.CommonName != "ss2" || !slices.Equal(cert.Subject.Organization, []string{"demo"}) {
		t.Errorf("subject %v", cert.Subject)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
		t.Errorf("key usage %v", cert.KeyUsage)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ext key usage %v", cert.ExtKeyUsage)
	}
	if !slices.Equal(cert.DNSNames, []string{"ss2"}) || len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("10.77.0.12")) {
		t.Errorf("SANs %v %v", cert.DNSNames, cert.IPAddresses)
	}
	if !cert.NotBefore.Equal(now.Add(-ClockSkew)) || !cert.NotAfter.Equal(now.Add(Validity)) {
		t.Errorf("validity %v .. %v", cert.NotBefore, cert.NotAfter)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 127 || cert.IsCA {
		t.Errorf("serial %v, CA %v", cert.SerialNumber, cert.IsCA)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "ss2", CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("does not verify for %v: %v", usage, err)
		}
	}
}

func TestIssueHostNameAddress(t *testing.T) {
	ca, caKey := newCA(t, now.Add(2*Validity))
	if cert := issue(t, ca, caKey, "ss2", "ss2.example.org"); !slices.Equal(cert.DNSNames, []string{"ss2", "ss2.example.org"}) || len(cert.IPAddresses) != 0 {
		t.Errorf("SANs %v %v", cert.DNSNames, cert.IPAddresses)
	}
	if cert := issue(t, ca, caKey, "ss2", "ss2"); !slices.Equal(cert.DNSNames, []string{"ss2"}) {
		t.Errorf("address equal to the name listed twice: %v", cert.DNSNames)
	}
}

func TestIssueNeverOutlivesTheCA(t *testing.T) {
	end := now.Add(90 * 24 * time.Hour)
	ca, caKey := newCA(t, end)
	if cert := issue(t, ca, caKey, "ss2", "10.77.0.12"); !cert.NotAfter.Equal(end) {
		t.Errorf("NotAfter %v, CA ends %v", cert.NotAfter, end)
	}
}

func TestIssueRequiresNameAndAddress(t *testing.T) {
	ca, caKey := newCA(t, now.Add(Validity))
	for _, c := range [][2]string{{"", "10.0.0.1"}, {"ss2", ""}} {
		if _, err := Issue(ca, caKey, &caKey.PublicKey, "demo", c[0], c[1], now); err == nil {
			t.Errorf("issued for name %q address %q", c[0], c[1])
		}
	}
}

func TestSerialsDiffer(t *testing.T) {
	a, _ := Serial()
	b, _ := Serial()
	if a.Cmp(b) == 0 {
		t.Error("two equal serials")
	}
}
