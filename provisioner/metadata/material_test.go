package metadata

// Test material is generated at test time: no private key is ever committed.

import (
	"crypto"
	"crypto/dsa" //nolint:staticcheck // only to prove DSA keys are refused
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"xroad-appliance/provisioner/jointoken"
)

// testPassword is the serverconf password of the valid documents. Its '!' and
// '#' keep it from ever passing as an identifier in an error message.
const testPassword = "Sup3r-S3cret!Pa55word#42"

type tlsPair struct{ cert, key string }

type sshPair struct{ priv, pub string }

type testMaterial struct {
	caPEM    string
	caCert   *x509.Certificate
	caKey    *ecdsa.PrivateKey
	tls      map[string]tlsPair // by node name: ss1, ss2, ss3
	hostKey  sshPair            // the primary's host key (ed25519)
	userKeys map[string]sshPair // secondaries' xroad user keys: ss2 ecdsa, ss3 ed25519
	spare    sshPair            // an ecdsa P-384 key nobody uses
}

var materialOnce = sync.OnceValue(func() *testMaterial {
	m := &testMaterial{tls: map[string]tlsPair{}, userKeys: map[string]sshPair{}}
	m.caKey = must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	m.caCert, m.caPEM = newCA(m.caKey, "CA")
	for _, n := range []string{"ss1", "ss2", "ss3"} {
		key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		m.tls[n] = tlsPair{
			cert: issue(m.caCert, m.caKey, key.Public(), certOpts{cn: n}),
			key:  pkcs8PEM(key),
		}
	}
	_, hk := must2(ed25519.GenerateKey(rand.Reader))
	m.hostKey = sshKeyPair(hk)
	m.userKeys["ss2"] = sshKeyPair(must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)))
	_, uk := must2(ed25519.GenerateKey(rand.Reader))
	m.userKeys["ss3"] = sshKeyPair(uk)
	m.spare = sshKeyPair(must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)))
	return m
})

func material(t testing.TB) *testMaterial {
	t.Helper()
	return materialOnce()
}

// primaryDoc and secondaryDoc are valid documents of a three-node cluster.
func primaryDoc(t testing.TB) *Document {
	m := material(t)
	return &Document{
		Version: Version, Cluster: "ss-cluster", Role: RolePrimary, Node: "ss1",
		Primary: Primary{Name: "ss1", Address: "10.20.0.11", HostKey: m.hostKey.pub},
		Secondaries: []Member{
			{Name: "ss2", Address: "ss2.cluster.example", SSHPublicKey: m.userKeys["ss2"].pub},
			{Name: "ss3", SSHPublicKey: m.userKeys["ss3"].pub},
		},
		ServerconfPassword: testPassword,
		TLS:                TLS{CA: m.caPEM, Cert: m.tls["ss1"].cert, Key: m.tls["ss1"].key},
		SSH:                SSH{HostKey: m.hostKey.priv},
		Options:            Options{HealthCheckPort: 5588, HealthCheckInterface: "0.0.0.0"},
	}
}

func secondaryDoc(t testing.TB) *Document {
	m := material(t)
	return &Document{
		Version: Version, Cluster: "ss-cluster", Role: RoleSecondary, Node: "ss2",
		Primary:            Primary{Name: "ss1", Address: "ss1.cluster.example", HostKey: m.hostKey.pub},
		ServerconfPassword: testPassword,
		TLS:                TLS{CA: m.caPEM, Cert: m.tls["ss2"].cert, Key: m.tls["ss2"].key},
		SSH:                SSH{PrivateKey: m.userKeys["ss2"].priv, PublicKey: m.userKeys["ss2"].pub},
		Options:            Options{HealthCheckPort: 5588, HealthCheckInterface: "0.0.0.0"},
	}
}

// testToken is the join token of the test documents.
const testToken = "k7x2qa.9f3hz81mq0c4vw2e"

// testExpiry is when testToken expires: any time parses, a past one too.
var testExpiry = time.Date(2031, 12, 6, 8, 0, 0, 0, time.UTC)

// joinPrimaryDoc is primaryDoc with a join section and no secondaries yet.
func joinPrimaryDoc(t testing.TB) *Document {
	d := primaryDoc(t)
	d.Secondaries = nil
	d.Join = &Join{
		Port:   DefaultJoinPort,
		CAKey:  pkcs8PEM(material(t).caKey),
		Tokens: []JoinToken{{Token: testToken, Expires: testExpiry, Uses: 3}},
	}
	return d
}

// joinDoc is the join document of the test cluster.
func joinDoc(t testing.TB) *JoinDocument {
	return &JoinDocument{
		Version: Version, Cluster: "ss-cluster", Role: RoleSecondary,
		Join: JoinTarget{Primary: "10.20.0.11", Port: DefaultJoinPort, Token: testToken, CAPin: jointoken.Pin(material(t).caCert)},
	}
}

// secrets lists the secret values of the test material, for leak checks.
func (m *testMaterial) secrets() []string {
	s := []string{testPassword, m.hostKey.priv, strings.TrimPrefix(testToken, "k7x2qa."), pkcs8PEM(m.caKey)}
	for _, p := range m.tls {
		s = append(s, p.key)
	}
	for _, p := range m.userKeys {
		s = append(s, p.priv)
	}
	return s
}

type certOpts struct {
	cn                  string
	extraCN             string
	notBefore, notAfter time.Time
	isCA                bool
	eku                 []x509.ExtKeyUsage
}

func newCA(key crypto.Signer, cn string) (*x509.Certificate, string) {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"cluster"}, CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key))
	return must(x509.ParseCertificate(der)), certPEM(der)
}

// issue makes a node certificate as guide 4.1 does: O=cluster, CN=<node>.
func issue(ca *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey, o certOpts) string {
	serial := must(rand.Int(rand.Reader, big.NewInt(1<<62)))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"cluster"}, CommonName: o.cn},
		NotBefore:    o.notBefore,
		NotAfter:     o.notAfter,
		ExtKeyUsage:  o.eku,
	}
	if o.extraCN != "" {
		// Two CN attributes: pkix.Name would fold them into one.
		cn := asn1.ObjectIdentifier{2, 5, 4, 3}
		tmpl.RawSubject = must(asn1.Marshal(pkix.RDNSequence{
			{{Type: cn, Value: o.cn}},
			{{Type: cn, Value: o.extraCN}},
		}))
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	if o.isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	}
	return certPEM(must(x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)))
}

func certPEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func pkcs8PEM(key crypto.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))}))
}

func sshKeyPair(key crypto.Signer) sshPair {
	block := must(ssh.MarshalPrivateKey(key, "test"))
	pub := must(ssh.NewPublicKey(key.Public()))
	return sshPair{
		priv: string(pem.EncodeToMemory(block)),
		pub:  strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " xroad@test",
	}
}

var rsaOnce = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })

// rsaSSH is an RSA key pair: valid SSH, but refused by the product.
func rsaSSH() sshPair { return sshKeyPair(rsaOnce()) }

// dsaKey builds a DSA key of the sizes SSH accepts from random numbers:
// generating real parameters is slow and the parsers check sizes only.
func dsaKey() *dsa.PrivateKey {
	bits := func(n int) *big.Int {
		v := must(rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(n-1))))
		return v.SetBit(v, n-1, 1)
	}
	p, q := bits(1024), bits(160)
	return &dsa.PrivateKey{
		PublicKey: dsa.PublicKey{Parameters: dsa.Parameters{P: p, Q: q, G: big.NewInt(2)}, Y: bits(1000)},
		X:         bits(150),
	}
}

func dsaSSH() sshPair {
	k := dsaKey()
	der := must(asn1.Marshal(struct {
		Version            int
		P, Q, G, Pub, Priv *big.Int
	}{0, k.P, k.Q, k.G, k.Y, k.X}))
	pub := must(ssh.NewPublicKey(&k.PublicKey))
	return sshPair{
		priv: string(pem.EncodeToMemory(&pem.Block{Type: "DSA PRIVATE KEY", Bytes: der})),
		pub:  strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}
