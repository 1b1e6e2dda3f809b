package join

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"xroad-appliance/provisioner/jointoken"
	"xroad-appliance/provisioner/nodecert"
	"xroad-appliance/provisioner/pemblock"
	"xroad-appliance/provisioner/sshkey"

	"golang.org/x/crypto/ssh"
)

// logBuffer collects one test's log lines from the service's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fixture is a primary's join service on a TLS test server with a token
// (any number of uses, an hour left), a fake Admit and a joiner's client.
type fixture struct {
	t      *testing.T
	ca     *ca
	store  *Store
	tok    jointoken.Token
	ts     *httptest.Server
	client *Client
	logs   *logBuffer
	// errs are the texts of the errors the client saw, scanned for secrets.
	errs []string

	mu       sync.Mutex
	admitted []Admission
	admit    AdmitFunc
}

func newFixture(t *testing.T, limits ...Limits) *fixture {
	t.Helper()
	f := &fixture{t: t, ca: testCA(t), store: newStore(t), tok: newToken(t), logs: &logBuffer{}}
	if err := f.store.SetCAKey(f.ca.keyPEM); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Add(f.tok, time.Now().Add(time.Hour), 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	primaryKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := nodecert.Issue(f.ca.cert, f.ca.key, &primaryKey.PublicKey, "demo", "ss1", "127.0.0.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.ts = httptest.NewUnstartedServer(nil)
	port := f.ts.Listener.Addr().(*net.TCPAddr).Port
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.ts.Config.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	cfg := Config{
		Store:  f.store,
		Info:   ClusterInfo{Cluster: "demo", Primary: Member{Name: "ss1", Address: "127.0.0.1"}, CA: f.ca.pem, Port: port},
		Cert:   tls.Certificate{Certificate: [][]byte{der}, PrivateKey: primaryKey},
		Admit:  f.doAdmit,
		Logger: logger,
		// Generous unless a test asks otherwise: every request comes from 127.0.0.1.
		Limits: Limits{Rate: 1000, Burst: 1000}, PeerLimits: Limits{Rate: 1000, Burst: 1000},
	}
	if len(limits) == 2 {
		cfg.Limits, cfg.PeerLimits = limits[0], limits[1]
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.ts.Config.Handler = srv
	f.ts.TLS = srv.TLSConfig()
	f.ts.StartTLS()
	t.Cleanup(f.ts.Close)
	f.client = &Client{Address: "127.0.0.1", Port: port, Token: f.tok, Pin: jointoken.Pin(f.ca.cert), Timeout: 10 * time.Second}
	t.Cleanup(f.checkSecrets)
	return f
}

func (f *fixture) doAdmit(ctx context.Context, a Admission) ([]byte, error) {
	f.mu.Lock()
	admit := f.admit
	f.mu.Unlock()
	if admit != nil {
		if _, err := admit(ctx, a); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admitted = append(f.admitted, a)
	return []byte("node: " + a.Name + "\n"), nil
}

func (f *fixture) setAdmit(a AdmitFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admit = a
}

func (f *fixture) admissions() []Admission {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Admission(nil), f.admitted...)
}

// checkSecrets: no stored token's secret and not the CA key is in the logs
// or in any error the client saw.
func (f *fixture) checkSecrets() {
	st, err := f.store.load()
	if err != nil {
		f.t.Fatal(err)
	}
	secrets := []string{strings.Split(string(f.ca.keyPEM), "\n")[1]}
	for _, tok := range st.Tokens {
		secrets = append(secrets, tok.Secret)
	}
	for _, text := range append([]string{f.logs.String()}, f.errs...) {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				f.t.Errorf("secret in %q", text)
			}
		}
	}
}

func (f *fixture) tokensFile() []byte {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.store.Dir(), TokensFile))
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) discover() *ClusterInfo {
	f.t.Helper()
	info, err := f.client.Discover(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return info
}

// request is a well-formed join request for name, with fresh keys.
func (f *fixture) request(name string) Request {
	f.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := NewCSR(key, name)
	if err != nil {
		f.t.Fatal(err)
	}
	user, _ := sshkey.New("ed25519", 0, "")
	host, _ := sshkey.New("ecdsa", 256, "")
	return Request{Name: name, CSR: csr, SSHPublicKey: user.Public, HostKey: host.Public}
}

// body is req as the client sends it, and its MAC.
func (f *fixture) body(req Request) ([]byte, string) {
	f.t.Helper()
	req.Token = f.tok.ID
	if req.Nonce == "" {
		req.Nonce, _ = NewNonce()
	}
	if req.Time.IsZero() {
		req.Time = time.Now().UTC()
	}
	b, err := json.Marshal(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return b, f.tok.MAC(b)
}

// refused asserts a *Refused with status and a reason containing want.
func (f *fixture) refused(err error, status int, want string) {
	f.t.Helper()
	if p := f.refusal(err, status, want); p != "" {
		f.t.Error(p)
	}
}

func (f *fixture) refusal(err error, status int, want string) string {
	if err != nil {
		f.errs = append(f.errs, err.Error())
	}
	var r *Refused
	if !errors.As(err, &r) || r.Status != status || !strings.Contains(r.Reason, want) {
		return fmt.Sprintf("got %v, want %d %q", err, status, want)
	}
	return ""
}

func TestJoin(t *testing.T) {
	f := newFixture(t)
	info := f.discover()
	if info.Cluster != "demo" || info.Primary != (Member{Name: "ss1", Address: "127.0.0.1"}) || info.CA != f.ca.pem {
		t.Errorf("cluster info %+v", info)
	}
	req := f.request("ss2")
	g, err := f.client.Join(context.Background(), info, req)
	if err != nil {
		t.Fatal(err)
	}
	if g.Document != "node: ss2\n" {
		t.Errorf("document %q", g.Document)
	}
	a := f.admissions()
	if len(a) != 1 || a[0].Name != "ss2" || a[0].Address != "127.0.0.1" || a[0].SSHPublicKey != req.SSHPublicKey || a[0].HostKey != req.HostKey {
		t.Fatalf("admissions %+v", a)
	}
	cert, err := pemblock.Certificate(a[0].CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(f.ca.cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "ss2", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("node certificate: %v", err)
	}
	if cert.Subject.CommonName != "ss2" || len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != "127.0.0.1" {
		t.Errorf("node certificate for %s at %v", cert.Subject.CommonName, cert.IPAddresses)
	}
	csr, _ := pemblock.Decode([]byte(req.CSR))
	parsed, _ := x509.ParseCertificateRequest(csr[0].Bytes)
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(parsed.PublicKey) {
		t.Error("the certificate does not carry the request's key")
	}
	if all, _ := f.store.Tokens(); all[0].Used != 1 {
		t.Errorf("used %d", all[0].Used)
	}
	if !strings.Contains(f.logs.String(), "node admitted") || !strings.Contains(f.logs.String(), "token="+f.tok.ID) {
		t.Errorf("log: %s", f.logs)
	}
}

// TestRefusals: each refusal answers its reason, calls no Admit and leaves
// the store's file as it was.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	info := f.discover()
	other := newToken(t)
	expired, usedUp := newToken(t), newToken(t)
	f.store.Add(expired, time.Now().Add(-time.Minute), 0, time.Now().Add(-time.Hour))
	f.store.Add(usedUp, time.Now().Add(time.Hour), 1, time.Now())
	f.store.Record(usedUp.ID, "ss9", "00000000000000000000000000000000", time.Now(), time.Now())

	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaPub, _ := ssh.NewPublicKey(&rsaKey.PublicKey)
	smallRSA, _ := rsa.GenerateKey(rand.Reader, 1024)

	withToken := func(tok jointoken.Token) func(*Request) ([]byte, string) {
		return func(r *Request) ([]byte, string) {
			r.Token, r.Nonce, r.Time = tok.ID, "0123456789abcdef0123456789abcdef", time.Now()
			b, _ := json.Marshal(r)
			return b, tok.MAC(b)
		}
	}
	cases := []struct {
		name   string
		edit   func(*Request)
		send   func(*Request) ([]byte, string)
		status int
		reason string
	}{
		{name: "unknown token", send: withToken(other), status: 403, reason: "unknown token"},
		{name: "expired token", send: withToken(expired), status: 403, reason: "token expired"},
		{name: "used-up token", send: withToken(usedUp), status: 403, reason: "token used up"},
		{name: "bad MAC", send: func(r *Request) ([]byte, string) {
			b, _ := f.body(*r)
			return b, jointoken.Token{ID: f.tok.ID, Secret: other.Secret}.MAC(b)
		}, status: 403, reason: "bad MAC"},
		{name: "no MAC", send: func(r *Request) ([]byte, string) {
			b, _ := f.body(*r)
			return b, ""
		}, status: 403, reason: "bad MAC"},
		{name: "old", edit: func(r *Request) { r.Time = time.Now().Add(-Freshness - time.Minute) }, status: 403, reason: "stale request"},
		{name: "future", edit: func(r *Request) { r.Time = time.Now().Add(Freshness + time.Minute) }, status: 403, reason: "stale request"},
		{name: "bad nonce", edit: func(r *Request) { r.Nonce = "xyz" }, status: 400, reason: "nonce"},
		{name: "reserved name", edit: func(r *Request) { r.Name = "postgres" }, status: 400, reason: "name: is a reserved"},
		{name: "upper-case name", edit: func(r *Request) { r.Name = "SS2" }, status: 400, reason: "name: must be"},
		{name: "no name", edit: func(r *Request) { r.Name = "" }, status: 400, reason: "name: required"},
		{name: "CN mismatch", edit: func(r *Request) { r.CSR = f.request("ss3").CSR }, status: 400, reason: "csr: its CN must be the node name ss2"},
		{name: "no CSR", edit: func(r *Request) { r.CSR = "" }, status: 400, reason: "csr: want one PEM"},
		{name: "forged CSR", edit: func(r *Request) {
			b, _ := pem.Decode([]byte(r.CSR))
			b.Bytes[len(b.Bytes)-3] ^= 1
			r.CSR = string(pem.EncodeToMemory(b))
		}, status: 400, reason: "csr: "},
		{name: "small RSA CSR", edit: func(r *Request) { r.CSR, _ = NewCSR(smallRSA, "ss2") }, status: 400, reason: "csr: the key must be"},
		{name: "RSA user key", edit: func(r *Request) { r.SSHPublicKey = sshkey.AuthorizedKey(rsaPub) }, status: 400, reason: "sshPublicKey: RSA keys are refused"},
		{name: "garbage host key", edit: func(r *Request) { r.HostKey = "ssh-ed25519 AAAA" }, status: 400, reason: "hostKey: not an OpenSSH public key"},
		{name: "host key is user key", edit: func(r *Request) { r.HostKey = r.SSHPublicKey }, status: 400, reason: "hostKey: must differ"},
		{name: "not JSON", send: func(*Request) ([]byte, string) { return []byte("{"), f.tok.MAC([]byte("{")) }, status: 400, reason: "not a JSON join request"},
		{name: "too big", send: func(*Request) ([]byte, string) {
			b := bytes.Repeat([]byte(" "), MaxBody+1)
			return b, f.tok.MAC(b)
		}, status: 413, reason: "request over"},
	}
	before := f.tokensFile()
	for _, c := range cases {
		req := f.request("ss2")
		if c.edit != nil {
			c.edit(&req)
		}
		send := c.send
		if send == nil {
			send = func(r *Request) ([]byte, string) { return f.body(*r) }
		}
		body, mac := send(&req)
		_, err := f.client.Send(context.Background(), info, body, mac)
		if p := f.refusal(err, c.status, c.reason); p != "" {
			t.Errorf("%s: %s", c.name, p)
		}
		if !bytes.Equal(f.tokensFile(), before) {
			t.Errorf("%s: the store changed", c.name)
		}
	}
	if a := f.admissions(); len(a) != 0 {
		t.Errorf("admitted %+v", a)
	}
	if all, _ := f.store.Tokens(); all[0].Used != 0 {
		t.Errorf("refusals counted %d uses", all[0].Used)
	}
}

func TestReplay(t *testing.T) {
	f := newFixture(t)
	info := f.discover()
	body, mac := f.body(f.request("ss2"))
	if _, err := f.client.Send(context.Background(), info, body, mac); err != nil {
		t.Fatal(err)
	}
	after := f.tokensFile()
	_, err := f.client.Send(context.Background(), info, body, mac)
	f.refused(err, 409, "replayed request")
	if !bytes.Equal(f.tokensFile(), after) || len(f.admissions()) != 1 {
		t.Error("the replay changed the store or was admitted")
	}
	if !Permanent(err) {
		t.Error("a replay counts as transient")
	}
}

func TestAdmitRefusal(t *testing.T) {
	f := newFixture(t)
	info := f.discover()
	f.setAdmit(func(context.Context, Admission) ([]byte, error) {
		return nil, &Refusal{Status: 409, Reason: "name already in the cluster"}
	})
	before := f.tokensFile()
	_, err := f.client.Join(context.Background(), info, f.request("ss2"))
	f.refused(err, 409, "name already in the cluster")
	if !bytes.Equal(f.tokensFile(), before) {
		t.Error("a refused admission changed the store")
	}

	f.setAdmit(func(context.Context, Admission) ([]byte, error) {
		return nil, errors.New("members phase failed: disk full")
	})
	_, err = f.client.Join(context.Background(), info, f.request("ss2"))
	f.refused(err, 500, "internal error")
	if strings.Contains(err.Error(), "disk full") || !strings.Contains(f.logs.String(), "disk full") {
		t.Errorf("internal error told the client or not the log: %v", err)
	}
	if Permanent(err) || !bytes.Equal(f.tokensFile(), before) {
		t.Error("a failed admission counts as permanent or changed the store")
	}
}

// TestUsesCountedOnSuccess: a token of two uses admits two nodes; the first
// may come again (a retry after a crash) without a use, a third may not,
// and the cluster info is still answered.
func TestUsesCountedOnSuccess(t *testing.T) {
	f := newFixture(t)
	tok := newToken(t)
	f.store.Add(tok, time.Now().Add(time.Hour), 2, time.Now())
	f.client.Token = tok
	info := f.discover()
	for _, name := range []string{"ss2", "ss2", "ss3"} {
		if _, err := f.client.Join(context.Background(), info, f.request(name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	_, err := f.client.Join(context.Background(), info, f.request("ss4"))
	f.refused(err, 403, "token used up")
	if v, _ := f.store.Valid(time.Now()); len(v) != 1 || v[0].ID != f.tok.ID {
		t.Errorf("valid tokens %+v, want only the fixture's", v)
	}
	all, _ := f.store.Tokens()
	if all[1].Used != 2 {
		t.Errorf("used %d", all[1].Used)
	}
	// A node it admitted may ask for the cluster info again after a crash.
	if _, err := f.client.Discover(context.Background()); err != nil {
		t.Errorf("cluster info with a used-up token: %v", err)
	}
}

func TestConcurrentJoinsSerialised(t *testing.T) {
	f := newFixture(t)
	info := f.discover()
	var running, most atomic.Int32
	f.setAdmit(func(context.Context, Admission) ([]byte, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		return nil, nil
	})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		req := f.request("ss" + strconv.Itoa(i+2))
		wg.Go(func() {
			_, err := f.client.Join(context.Background(), info, req)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if most.Load() != 1 {
		t.Errorf("%d admissions at once", most.Load())
	}
	if all, _ := f.store.Tokens(); all[0].Used != 8 {
		t.Errorf("used %d", all[0].Used)
	}
}

func TestRateLimit(t *testing.T) {
	for name, limits := range map[string][2]Limits{
		"global":  {{Rate: 0.001, Burst: 3}, DefaultPeerLimits},
		"address": {{Rate: 1000, Burst: 1000}, {Rate: 0.001, Burst: 3}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, limits[0], limits[1])
			for range 3 {
				f.discover()
			}
			before := f.tokensFile()
			_, err := f.client.Discover(context.Background())
			f.refused(err, 429, "too many requests")
			if Permanent(err) {
				t.Error("429 counts as permanent")
			}
			_, err = f.client.Join(context.Background(), &ClusterInfo{Primary: Member{Name: "ss1"}, CA: f.ca.pem}, f.request("ss2"))
			f.refused(err, 429, "too many requests")
			if !bytes.Equal(f.tokensFile(), before) {
				t.Error("the store changed")
			}
		})
	}
}

func TestLimiterPerAddress(t *testing.T) {
	l := newLimiter(Limits{Rate: 1000, Burst: 1000}, Limits{Rate: 0.001, Burst: 1})
	if !l.allow("10.0.0.1") || l.allow("10.0.0.1") || !l.allow("10.0.0.2") {
		t.Error("one address's bucket held another")
	}
	for i := range 3 * maxPeers {
		l.allow(fmt.Sprintf("10.1.%d.%d", i/256, i%256))
	}
	if len(l.peers) > maxPeers {
		t.Errorf("%d buckets", len(l.peers))
	}
}

func TestClientPin(t *testing.T) {
	f := newFixture(t)
	wrong := jointoken.Pin(testCA(t).cert)
	f.client.Pin = wrong
	_, err := f.client.Discover(context.Background())
	f.errs = append(f.errs, fmt.Sprint(err))
	if !errors.Is(err, ErrPinMismatch) || !Permanent(err) || !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), jointoken.Pin(f.ca.cert)) {
		t.Errorf("wrong pin: %v", err)
	}
	f.client.Pin = "sha256:abc"
	if _, err := f.client.Discover(context.Background()); err == nil || !strings.Contains(err.Error(), "CA pin") {
		t.Errorf("malformed pin: %v", err)
	}
}

func TestClientWrongSecret(t *testing.T) {
	f := newFixture(t)
	f.client.Token = jointoken.Token{ID: f.tok.ID, Secret: newToken(t).Secret}
	_, err := f.client.Discover(context.Background())
	if !errors.Is(err, ErrInfoMAC) || !Permanent(err) {
		t.Errorf("info under another secret: %v", err)
	}
	f.errs = append(f.errs, fmt.Sprint(err))
}

// TestClientVerifiesThePrimary: the join request goes only to a server whose
// certificate the cluster CA signed for the primary's name.
func TestClientVerifiesThePrimary(t *testing.T) {
	f := newFixture(t)
	info := f.discover()
	for name, bad := range map[string]ClusterInfo{
		"another CA":   {Cluster: "demo", Primary: info.Primary, CA: testCA(t).pem},
		"another name": {Cluster: "demo", Primary: Member{Name: "ss7", Address: "127.0.0.1"}, CA: info.CA},
	} {
		_, err := f.client.Join(context.Background(), &bad, f.request("ss2"))
		var r *Refused
		if err == nil || errors.As(err, &r) || Permanent(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(f.admissions()) != 0 {
		t.Error("admitted through an unverified connection")
	}
}

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	hc := f.ts.Client()
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/v1/nothing", 404},
		{http.MethodPost, ClusterInfoPath, 405},
		{http.MethodGet, JoinPath, 405},
		{http.MethodGet, ClusterInfoPath + "?token=" + f.tok.Value(), 403},
	} {
		req, _ := http.NewRequest(c.method, f.ts.URL+c.path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e errorBody
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || json.Unmarshal(b, &e) != nil || e.Error == "" {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, b)
		}
	}
}

func TestServeStopsWithContext(t *testing.T) {
	f := newFixture(t)
	srv := f.ts.Config.Handler.(*Server)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	f.client.Port = ln.Addr().(*net.TCPAddr).Port
	info := f.discover()
	if _, err := f.client.Join(context.Background(), info, f.request("ss2")); err != nil {
		t.Fatal(err)
	}
	// TLS below 1.2 is refused.
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		conn.Close()
		t.Error("TLS 1.1 accepted")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

func TestNewServerChecksTheCAKey(t *testing.T) {
	f := newFixture(t)
	srv := f.ts.Config.Handler.(*Server)
	other := newStore(t)
	other.SetCAKey(testCA(t).keyPEM)
	_, err := NewServer(Config{Store: other, Info: ClusterInfo{Cluster: "demo", Primary: Member{Name: "ss1", Address: "127.0.0.1"}, CA: f.ca.pem},
		Cert: srv.cert, Admit: f.doAdmit})
	if err == nil || !strings.Contains(err.Error(), CAKeyFile) {
		t.Errorf("another CA's key: %v", err)
	}
}
