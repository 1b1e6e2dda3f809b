package secretscan

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// keys are key material made for the test.
type keys struct {
	rsaPEM, ecPEM, pkcs8PEM, opensshPEM, certPEM, publicPEM, sshPublic []byte
}

func makeKeys(t *testing.T) keys {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(edKey)
	openssh, err := ssh.MarshalPrivateKey(edKey, "test")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rsaKey.PublicKey, rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	sshPub, _ := ssh.NewPublicKey(edKey.Public())
	return keys{
		rsaPEM:     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}),
		ecPEM:      pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}),
		pkcs8PEM:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		opensshPEM: pem.EncodeToMemory(openssh),
		certPEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}),
		publicPEM:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
		sshPublic:  ssh.MarshalAuthorizedKey(sshPub),
	}
}

// pfx is a hand-made PKCS#12 skeleton: version 3, a pkcs7-data authSafe, and
// (withKey) a pkcs8ShroudedKeyBag inside.
func pfx(withKey bool) []byte {
	inner := append([]byte{}, oidData...)
	if withKey {
		inner = append(inner, 0x30, byte(len(oidShroudedKeyBag)))
		inner = append(inner, oidShroudedKeyBag...)
	} else {
		inner = append(inner, 0x30, 0x0d, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x03) // certBag
	}
	authSafe := append([]byte{0x30, byte(len(inner))}, inner...)
	body := append([]byte{0x02, 0x01, 0x03}, authSafe...)
	return append([]byte{0x30, 0x82, 0x00, byte(len(body))}, body...)
}

func write(t *testing.T, root, p string, data []byte) {
	t.Helper()
	host := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(host, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestScanFindsSecretsAndNothingElse(t *testing.T) {
	k := makeKeys(t)
	root := t.TempDir()
	// Findings.
	write(t, root, "etc/ssl/private/ssl-cert-snakeoil.key", k.rsaPEM)
	write(t, root, "etc/xroad/ssl/internal.key", k.ecPEM)
	write(t, root, "root/.ssh/id_ed25519", k.opensshPEM)
	write(t, root, "opt/app/key.pem", k.pkcs8PEM)
	write(t, root, "etc/xroad/ssl/proxy-ui-api.p12", pfx(false))
	write(t, root, "var/lib/app/store", pfx(true))
	write(t, root, "etc/xroad/db.properties", []byte("serverconf.hibernate.connection.url = jdbc:postgresql://127.0.0.1:5432/serverconf\n"+
		"serverconf.hibernate.connection.password = s3cret\nop-monitor.hibernate.connection.password=\n"))
	write(t, root, "etc/xroad.properties", []byte("# admin\npostgres.connection.password: abc\n"))
	write(t, root, "etc/xroad/conf.d/extra.properties", []byte("db\\ password = x\n"))
	// A certificate chain with the key after 10 KiB of certificates.
	chain := append([]byte{}, k.certPEM...)
	for len(chain) < 10<<10 {
		chain = append(chain, k.certPEM...)
	}
	write(t, root, "etc/app/bundle.pem", append(chain, k.ecPEM...))
	write(t, root, "etc/machine-id", []byte("0123456789abcdef\n"))
	write(t, root, "etc/ssh/ssh_host_ed25519_key.pub", k.sshPublic)
	write(t, root, "home/u/key.ppk", []byte("PuTTY-User-Key-File-3: ssh-ed25519\n"))
	write(t, root, "etc/xroad/gpghome/private-keys-v1.d/0123ABCD.key", []byte("Created: 20240101T000000\nKey: (private-key (rsa (n #00#)))\n"))
	// Not findings.
	write(t, root, "etc/ssl/certs/ca.pem", k.certPEM)
	write(t, root, "etc/ssl/certs/pub.pem", k.publicPEM)
	write(t, root, "home/u/.ssh/authorized_keys", k.sshPublic)
	write(t, root, "usr/bin/tool", append([]byte("\x7fELF....-----BEGIN RSA PRIVATE KEY-----\n"), make([]byte, 100)...))
	write(t, root, "usr/share/doc/app/README", []byte("-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n"))
	write(t, root, "etc/ssl/certs/java/cacerts", pfx(false))
	write(t, root, "etc/xroad/conf.d/local.properties", []byte("proxy.password.file = \nadmin-password=\n#db.password = commented\n"))
	write(t, root, "etc/app/app.properties", []byte("db.password = outside /etc/xroad\n"))
	write(t, root, "var/lib/dbus/empty", nil)
	write(t, root, "etc/xroad/gpghome/pubring.kbx", []byte("public keys"))
	// The kernel's file systems are never read.
	write(t, root, "proc/1/key.pem", k.rsaPEM)
	// A link to a key is not a second finding; a fifo is not read.
	if err := os.Symlink("/etc/ssl/private/ssl-cert-snakeoil.key", filepath.Join(root, "etc/ssl/certs/link.pem")); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("mkfifo", filepath.Join(root, "run-fifo")).Run(); err != nil {
		t.Fatal(err)
	}

	got, err := Scan(context.Background(), root, Options{
		PerInstall: []string{"/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_*_key.pub", "/etc/xroad/db.properties"},
		Empty:      []string{"/etc/machine-id"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/etc/app/bundle.pem":                               "PEM private key (EC PRIVATE KEY)",
		"/etc/machine-id":                                   "not emptied",
		"/etc/ssh/ssh_host_ed25519_key.pub":                 "per-install file",
		"/etc/ssl/private/ssl-cert-snakeoil.key":            "PEM private key (RSA PRIVATE KEY)",
		"/etc/xroad.properties":                             "postgres.connection.password",
		"/etc/xroad/conf.d/extra.properties":                `db\ password`,
		"/etc/xroad/db.properties":                          "serverconf.hibernate.connection.password holds a password; per-install file",
		"/etc/xroad/ssl/internal.key":                       "PEM private key (EC PRIVATE KEY)",
		"/etc/xroad/ssl/proxy-ui-api.p12":                   "PKCS#12 key store",
		"/home/u/key.ppk":                                   "PuTTY private key",
		"/etc/xroad/gpghome/private-keys-v1.d/0123ABCD.key": "GnuPG private key",
		"/opt/app/key.pem":                                  "PEM private key (PRIVATE KEY)",
		"/root/.ssh/id_ed25519":                             "PEM private key (OPENSSH PRIVATE KEY)",
		"/var/lib/app/store":                                "PKCS#12 key store with a private key",
	}
	seen := map[string]bool{}
	for _, f := range got {
		seen[f.Path] = true
		w, ok := want[f.Path]
		if !ok {
			t.Errorf("false finding %s", f)
			continue
		}
		if !strings.Contains(f.String(), w) {
			t.Errorf("%s: want %q", f, w)
		}
		if strings.Contains(f.String(), "s3cret") || strings.Contains(f.String(), "abc") {
			t.Errorf("%s: a finding shows the secret", f)
		}
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("missed %s", p)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].Path >= got[i].Path {
			t.Errorf("findings not sorted: %s before %s", got[i-1].Path, got[i].Path)
		}
	}
}

// TestScanRealKeyFiles checks keys as the tools write them: ssh-keygen's
// OpenSSH and PEM formats, openssl's encrypted PKCS#8 and PKCS#12.
func TestScanRealKeyFiles(t *testing.T) {
	for _, tool := range []string{"ssh-keygen", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	root := t.TempDir()
	dir := filepath.Join(root, "keys")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "ssh_host_ed25519_key"))
	run("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", filepath.Join(dir, "rsa_pem"))
	run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=test",
		"-keyout", filepath.Join(dir, "internal.key"), "-out", filepath.Join(dir, "internal.crt"), "-days", "1")
	run("openssl", "pkcs8", "-topk8", "-in", filepath.Join(dir, "internal.key"), "-out", filepath.Join(dir, "encrypted.key"), "-passout", "pass:x")
	run("openssl", "pkcs12", "-export", "-in", filepath.Join(dir, "internal.crt"), "-inkey", filepath.Join(dir, "internal.key"),
		"-out", filepath.Join(dir, "store.bin"), "-passout", "pass:internal")
	run("openssl", "pkcs12", "-export", "-nokeys", "-in", filepath.Join(dir, "internal.crt"), "-out", filepath.Join(dir, "truststore.bin"), "-passout", "pass:x")
	want := []string{
		"/keys/encrypted.key: PEM private key (ENCRYPTED PRIVATE KEY)",
		"/keys/internal.key: PEM private key (PRIVATE KEY)",
		"/keys/rsa_pem: PEM private key (RSA PRIVATE KEY)",
		"/keys/ssh_host_ed25519_key: PEM private key (OPENSSH PRIVATE KEY)",
		"/keys/store.bin: PKCS#12 key store with a private key",
	}
	expectFindings(t, root, want)
}

func TestSplitProperty(t *testing.T) {
	for line, want := range map[string][2]string{
		"a=b":      {"a", "b"},
		"a = b":    {"a", " b"},
		"a:b":      {"a", "b"},
		"a b":      {"a", "b"},
		`a\=b = c`: {`a\=b`, " c"},
		"password": {"password", ""},
		"a  :  b":  {"a", "  b"},
		"pass=":    {"pass", ""},
	} {
		k, v := splitProperty(line)
		if k != want[0] || v != want[1] {
			t.Errorf("splitProperty(%q) = %q, %q; want %q, %q", line, k, v, want[0], want[1])
		}
	}
}

// expectFindings scans root and compares its findings, one line each, with want.
func expectFindings(t *testing.T, root string, want []string) {
	t.Helper()
	got, err := Scan(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range got {
		lines = append(lines, f.String())
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
