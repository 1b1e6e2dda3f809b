package join

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"xroad-appliance/provisioner/jointoken"
	"xroad-appliance/provisioner/pemblock"
)

// Client is a joiner's side: where the primary's join service listens, the
// token and the CA pin from the join document.
type Client struct {
	Address string
	Port    int
	Token   jointoken.Token
	Pin     string
	// Timeout bounds each request, admission included; 0 means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout leaves the primary time to make the node a member.
const DefaultTimeout = 2 * time.Minute

// maxAnswer bounds what the client reads from the primary.
const maxAnswer = 1 << 20

// Errors of Discover that no retry mends: the answer is not from a primary
// that holds the token, or its CA is not the pinned one.
var (
	ErrInfoMAC     = errors.New("the cluster info does not verify with the token: the token is wrong or the answer is not from the primary")
	ErrPinMismatch = errors.New("CA pin mismatch")
)

// Permanent tells whether a Discover or Join error stays the same when
// asked again (a refusal other than 429, a bad MAC, a pin mismatch), as
// opposed to network trouble, 429 and 5xx, which may pass.
func Permanent(err error) bool {
	var r *Refused
	if errors.As(err, &r) {
		return r.Permanent()
	}
	return errors.Is(err, ErrInfoMAC) || errors.Is(err, ErrPinMismatch)
}

// Discover asks for the cluster info. The TLS of this one request is not
// verified, since the CA is what it fetches; the token's MAC and the pin
// authenticate the answer instead (kubeadm's discovery).
func (c *Client) Discover(ctx context.Context) (*ClusterInfo, error) {
	if p := jointoken.CheckPin(c.Pin); p != "" {
		return nil, fmt.Errorf("CA pin: %s", p)
	}
	conf := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	target := c.url(ClusterInfoPath) + "?" + url.Values{"token": {c.Token.ID}}.Encode()
	body, err := c.do(ctx, conf, http.MethodGet, target, nil, "")
	if err != nil {
		return nil, err
	}
	var si signedInfo
	if err := json.Unmarshal(body, &si); err != nil {
		return nil, fmt.Errorf("cluster info from %s: not the join service's answer", c.Address)
	}
	if !c.Token.Verify(si.Info, si.MAC) {
		return nil, ErrInfoMAC
	}
	var info ClusterInfo
	if err := json.Unmarshal(si.Info, &info); err != nil {
		return nil, fmt.Errorf("cluster info from %s: %w", c.Address, err)
	}
	ca, err := pemblock.Certificate([]byte(info.CA))
	if err != nil {
		return nil, fmt.Errorf("cluster info from %s: CA: %w", c.Address, err)
	}
	// Pins are public: both go into the message, to tell which CA answered.
	if !jointoken.Matches(ca, c.Pin) {
		return nil, fmt.Errorf("%w: the primary's CA is %s, the join document pins %s", ErrPinMismatch, jointoken.Pin(ca), c.Pin)
	}
	if info.Primary.Name == "" {
		return nil, fmt.Errorf("cluster info from %s: no primary name", c.Address)
	}
	return &info, nil
}

// Join sends req, with the token's ID and, when unset, a fresh nonce and
// the current time, to the primary that info describes. A refusal is a
// *Refused.
func (c *Client) Join(ctx context.Context, info *ClusterInfo, req Request) (*Grant, error) {
	req.Token = c.Token.ID
	if req.Nonce == "" {
		n, err := NewNonce()
		if err != nil {
			return nil, err
		}
		req.Nonce = n
	}
	if req.Time.IsZero() {
		req.Time = time.Now().UTC().Truncate(time.Second)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return c.Send(ctx, info, body, c.Token.MAC(body))
}

// Send posts a prepared join request body with its MAC, over TLS verified
// by info's CA for the primary's name.
func (c *Client) Send(ctx context.Context, info *ClusterInfo, body []byte, mac string) (*Grant, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(info.CA)) {
		return nil, errors.New("cluster info: no CA certificate")
	}
	conf := &tls.Config{RootCAs: roots, ServerName: info.Primary.Name, MinVersion: tls.VersionTLS12}
	answer, err := c.do(ctx, conf, http.MethodPost, c.url(JoinPath), body, mac)
	if err != nil {
		return nil, err
	}
	var g Grant
	if err := json.Unmarshal(answer, &g); err != nil || g.Document == "" {
		return nil, fmt.Errorf("join answer from %s: no role document", c.Address)
	}
	return &g, nil
}

func (c *Client) url(path string) string {
	return "https://" + net.JoinHostPort(c.Address, strconv.Itoa(c.Port)) + path
}

// do makes one request on a connection of its own (no proxy: the primary
// is on the cluster's network) and returns a 200 answer's body; any other
// status is a *Refused.
func (c *Client) do(ctx context.Context, conf *tls.Config, method, target string, body []byte, mac string) ([]byte, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	tr := &http.Transport{TLSClientConfig: conf, TLSHandshakeTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: timeout}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if mac != "" {
		req.Header.Set(MACHeader, mac)
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(answer, &e) != nil || e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return nil, &Refused{Status: resp.StatusCode, Reason: e.Error}
	}
	return answer, nil
}
