package join

import (
	"context"
	"crypto"
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
	"net/netip"
	"regexp"
	"time"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodecert"
	"xroad-appliance/provisioner/pemblock"
)

// Admission is a node the service has checked and certified, for Admit.
type Admission struct {
	Name string
	// Address is the request's source IP, which the certificate names.
	Address string
	// CertPEM is the node's certificate, signed by the cluster CA.
	CertPEM      []byte
	SSHPublicKey string
	HostKey      string
}

// AdmitFunc makes an admitted node a member and returns its role document
// (YAML, without private keys). It returns a *Refusal to refuse the node;
// any other error is logged and answered 500. The service runs one at a time.
type AdmitFunc func(context.Context, Admission) ([]byte, error)

// Config is what a Server needs.
type Config struct {
	Store *Store
	// Info is what cluster-info answers.
	Info ClusterInfo
	// Cert is the primary's node certificate and key, which the service
	// presents; its SANs name Info.Primary.
	Cert  tls.Certificate
	Admit AdmitFunc
	// Logger gets one line per request; nil logs nothing.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Limits and PeerLimits bound all requests and each address's; zero
	// values mean DefaultLimits and DefaultPeerLimits.
	Limits, PeerLimits Limits
}

// Server is the primary's join service.
type Server struct {
	store     *Store
	info      []byte // ClusterInfo JSON, as the MACs cover it
	cluster   string
	caCert    *x509.Certificate
	caKey     crypto.Signer
	cert      tls.Certificate
	admit     AdmitFunc
	log       *slog.Logger
	now       func() time.Time
	limit     *limiter
	admitting chan struct{} // holds one token while a request is checked and admitted
}

// NewServer checks cfg: the CA key in the store must match Info.CA.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Admit == nil {
		return nil, errors.New("join service: a store and an admit function are required")
	}
	if cfg.Info.Cluster == "" || cfg.Info.Primary.Name == "" || cfg.Info.Primary.Address == "" {
		return nil, errors.New("join service: the cluster info needs the cluster and the primary's name and address")
	}
	if len(cfg.Cert.Certificate) == 0 || cfg.Cert.PrivateKey == nil {
		return nil, errors.New("join service: a TLS certificate and key are required")
	}
	caCert, err := pemblock.Certificate([]byte(cfg.Info.CA))
	if err != nil {
		return nil, fmt.Errorf("join service: cluster CA: %w", err)
	}
	caKey, err := cfg.Store.CAKey()
	if err != nil {
		return nil, fmt.Errorf("join service: %w", err)
	}
	if !pemblock.SamePublicKey(caCert.PublicKey, caKey.Public()) {
		return nil, fmt.Errorf("join service: %s does not match the cluster CA's certificate", CAKeyFile)
	}
	info, err := json.Marshal(cfg.Info)
	if err != nil {
		return nil, err
	}
	s := &Server{store: cfg.Store, info: info, cluster: cfg.Info.Cluster, caCert: caCert, caKey: caKey,
		cert: cfg.Cert, admit: cfg.Admit, log: cfg.Logger, now: cfg.Now, admitting: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	if cfg.PeerLimits == (Limits{}) {
		cfg.PeerLimits = DefaultPeerLimits
	}
	s.limit = newLimiter(cfg.Limits, cfg.PeerLimits)
	return s, nil
}

// TLSConfig presents the primary's certificate, TLS 1.2 or later.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12}
}

// shutdownGrace lets an admission under way finish when the service stops,
// so that a joiner is not left half admitted.
const shutdownGrace = time.Minute

// Serve answers TLS requests on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		TLSConfig:         s.TLSConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	stopped := make(chan error, 1)
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		err := srv.Shutdown(sctx)
		if err != nil {
			srv.Close()
		}
		stopped <- err
	})
	err := srv.ServeTLS(ln, "", "")
	if stop() { // ctx is still live: serving failed by itself
		return err
	}
	return <-stopped
}

// ServeHTTP answers the two routes; every refusal is JSON {"error": reason}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	peer := peerIP(r.RemoteAddr)
	log := s.log.With("peer", peer, "path", r.URL.Path)
	if !s.limit.allow(peer) {
		s.refuse(w, log, &Refusal{Status: http.StatusTooManyRequests, Reason: "too many requests; try again later"})
		return
	}
	var route func(http.ResponseWriter, *http.Request, string, *slog.Logger)
	var want string
	switch r.URL.Path {
	case ClusterInfoPath:
		route, want = s.clusterInfo, http.MethodGet
	case JoinPath:
		route, want = s.join, http.MethodPost
	default:
		s.refuse(w, log, &Refusal{Status: http.StatusNotFound, Reason: "no such route"})
		return
	}
	if r.Method != want {
		w.Header().Set("Allow", want)
		s.refuse(w, log, &Refusal{Status: http.StatusMethodNotAllowed, Reason: "use " + want})
		return
	}
	route(w, r, peer, log)
}

func (s *Server) clusterInfo(w http.ResponseWriter, r *http.Request, _ string, log *slog.Logger) {
	id := r.URL.Query().Get("token")
	log = log.With("token", loggable(id))
	tok, err := s.store.Lookup(id, AnyNode, s.now())
	if err != nil {
		s.fail(w, log, err)
		return
	}
	log.Info("cluster info sent")
	writeJSON(w, http.StatusOK, signedInfo{Info: s.info, MAC: tok.MAC(s.info)})
}

// join checks a request in the documented order, each check before anything
// changes, then certifies the node, admits it and only then records the
// token's use and the nonce.
func (s *Server) join(w http.ResponseWriter, r *http.Request, peer string, log *slog.Logger) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.refuse(w, log, &Refusal{Status: http.StatusRequestEntityTooLarge, Reason: fmt.Sprintf("request over %d bytes", MaxBody)})
		return
	case err != nil:
		s.refuse(w, log, &Refusal{Status: http.StatusBadRequest, Reason: "request body unreadable"})
		return
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		s.refuse(w, log, &Refusal{Status: http.StatusBadRequest, Reason: "request is not a JSON join request"})
		return
	}
	log = log.With("token", loggable(req.Token), "name", loggable(req.Name))

	// One request at a time from here: two requests with one token must
	// not both pass its uses, nor two nodes take one name.
	select {
	case s.admitting <- struct{}{}:
		defer func() { <-s.admitting }()
	case <-r.Context().Done():
		s.refuse(w, log, &Refusal{Status: http.StatusServiceUnavailable, Reason: "gave up waiting for another admission"})
		return
	}
	now := s.now()
	tok, err := s.store.Lookup(req.Token, req.Name, now)
	if err != nil {
		s.fail(w, log, err)
		return
	}
	if !tok.Verify(body, r.Header.Get(MACHeader)) {
		s.refuse(w, log, &Refusal{Status: http.StatusForbidden, Reason: "bad MAC"})
		return
	}
	if d := req.Time.Sub(now); d > Freshness || d < -Freshness {
		s.refuse(w, log, &Refusal{Status: http.StatusForbidden, Reason: fmt.Sprintf("stale request: its time is more than %v from the primary's clock", Freshness)})
		return
	}
	if !nonceRE.MatchString(req.Nonce) {
		s.refuse(w, log, &Refusal{Status: http.StatusBadRequest, Reason: "nonce: want 32 lowercase hex digits"})
		return
	}
	if seen, err := s.store.Seen(req.Nonce); err != nil || seen {
		if err == nil {
			err = &Refusal{Status: http.StatusConflict, Reason: "replayed request"}
		}
		s.fail(w, log, err)
		return
	}
	if p := metadata.NameProblem(req.Name, true); p != "" {
		s.refuse(w, log, &Refusal{Status: http.StatusBadRequest, Reason: "name: " + p})
		return
	}
	csr, p := checkCSR(req.CSR, req.Name)
	if p != "" {
		s.refuse(w, log, &Refusal{Status: http.StatusBadRequest, Reason: "csr: " + p})
		return
	}
	if p := checkSSHKeys(req.SSHPublicKey, req.HostKey); p != "" {
		s.refuse(w, log, &Refusal{Status: http.StatusBadRequest, Reason: p})
		return
	}

	der, err := nodecert.Issue(s.caCert, s.caKey, csr.PublicKey, s.cluster, req.Name, peer, now)
	if err != nil {
		s.fail(w, log, fmt.Errorf("sign the node certificate: %w", err))
		return
	}
	doc, err := s.admit(r.Context(), Admission{
		Name:         req.Name,
		Address:      peer,
		CertPEM:      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		SSHPublicKey: req.SSHPublicKey,
		HostKey:      req.HostKey,
	})
	if err != nil {
		s.fail(w, log, err)
		return
	}
	if err := s.store.Record(tok.ID, req.Name, req.Nonce, req.Time, now); err != nil {
		s.fail(w, log, fmt.Errorf("record the admission: %w", err))
		return
	}
	log.Info("node admitted")
	writeJSON(w, http.StatusOK, Grant{Document: string(doc)})
}

var nonceRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// fail answers a *Refusal as it is and any other error as an internal one,
// whose text goes to the log only.
func (s *Server) fail(w http.ResponseWriter, log *slog.Logger, err error) {
	var refusal *Refusal
	if errors.As(err, &refusal) {
		s.refuse(w, log, refusal)
		return
	}
	log.Error("join request failed", "status", http.StatusInternalServerError, "error", err)
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error; the primary's log tells more"})
}

func (s *Server) refuse(w http.ResponseWriter, log *slog.Logger, r *Refusal) {
	log.Warn("join request refused", "status", r.Status, "reason", r.Reason)
	writeJSON(w, r.Status, errorBody{Error: r.Reason})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// peerIP is the request's source address without port, an IPv4 address in
// its plain form.
func peerIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().WithZone("").String()
	}
	return host
}

var loggableRE = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)

// loggable passes a client's token ID or name to the log only in the form
// those take: a value pasted wrongly (a whole "ID.SECRET") must not put a
// secret in the log.
func loggable(v string) string {
	if loggableRE.MatchString(v) {
		return v
	}
	return "(malformed)"
}
