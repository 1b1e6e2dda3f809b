// Package registry runs the CNCF distribution registry (Debian's
// docker-registry package) for a test: on a loopback port, with TLS from a
// throwaway CA and htpasswd basic authentication, storing under the test's
// temporary directory. Pushes meet what a real registry does: TLS
// verification, the token-less basic challenge, blob mounts and uploads.
package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"xroad-appliance/test/freeport"
)

// Binary is the registry Debian's docker-registry package installs.
const Binary = "docker-registry"

// Registry is a running registry.
type Registry struct {
	// Host is HOST:PORT, the registry part of an image reference.
	Host string
	// CAFile is the PEM certificate of the CA that signed the registry's
	// certificate: give it to clients as SSL_CERT_FILE.
	CAFile string
	// User and Password are the one account htpasswd knows.
	User, Password string
	pool           *x509.CertPool
}

// Need skips the test when the registry is not installed.
func Need(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath(Binary); err != nil {
		t.Skipf("%s not installed (apt-get install docker-registry; make setup does)", Binary)
	}
}

// Start runs a registry until the test ends, with one account user whose
// password is password.
func Start(t testing.TB, user, password string) *Registry {
	t.Helper()
	Need(t)
	dir := t.TempDir()
	port := freeport.Loopback(t)
	r := &Registry{Host: "127.0.0.1:" + strconv.Itoa(port), User: user, Password: password,
		CAFile: filepath.Join(dir, "ca.pem")}
	cert, key := r.makeTLS(t, dir)

	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	write(t, htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600)
	secret := make([]byte, 16)
	rand.Read(secret)
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: %x
  tls:
    certificate: %s
    key: %s
auth:
  htpasswd:
    realm: xroad-appliance-test
    path: %s
`, filepath.Join(dir, "storage"), r.Host, secret, cert, key, htpasswd)
	cfgFile := filepath.Join(dir, "config.yml")
	write(t, cfgFile, []byte(config), 0o600)

	logFile, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Binary, "serve", cfgFile)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			if log, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("registry log:\n%s", log)
			}
		}
	})

	// Up when /v2/ answers the basic challenge over verified TLS.
	client := &http.Client{Transport: r.Transport(), Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("%s exited: %v\n%s", Binary, err, log)
		default:
		}
		resp, err := client.Get("https://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return r
			}
			t.Fatalf("registry /v2/ without credentials: %s, want 401", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s not up after 30 s: %v", r.Host, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// makeTLS writes a CA (CAFile) and a server certificate for 127.0.0.1
// signed by it, and returns the server's certificate and key files.
func (r *Registry) makeTLS(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "xroad-appliance test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write(t, r.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	write(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), 0o644)
	write(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	r.pool = x509.NewCertPool()
	r.pool.AddCert(ca)
	return certFile, keyFile
}

// Transport trusts the registry's CA and nothing else.
func (r *Registry) Transport() http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: r.pool, MinVersion: tls.VersionTLS12}
	return tr
}

// DockerConfig writes a Docker config directory (for DOCKER_CONFIG) whose
// config.json holds user:password for the registry, as `docker login`
// writes it.
func (r *Registry) DockerConfig(t testing.TB, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{"auths": map[string]any{
		r.Host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))},
	}}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "config.json"), b, 0o600)
	return dir
}

func write(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}
