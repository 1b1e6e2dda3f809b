// Package join is the protocol by which a secondary joins its cluster's
// primary with a short-lived token and the pin of the cluster CA (as
// kubeadm joins a node): the primary's service and store, and the joiner's
// client.
//
// The joiner first asks for the cluster's info over TLS it cannot verify
// yet; the answer carries a MAC keyed by the token's secret, and the CA in
// it must match the pin. Then it sends its join request over TLS verified
// by that CA, again under a MAC, and gets back its role document with a
// certificate signed by the CA.
package join

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"time"
)

// Routes and the header that carries a join request's MAC.
const (
	ClusterInfoPath = "/v1/cluster-info"
	JoinPath        = "/v1/join"
	MACHeader       = "X-Join-MAC"
)

// MaxBody is the largest join request the service reads.
const MaxBody = 64 << 10

// Member is a node as the joiner needs to reach it.
type Member struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// ClusterInfo is what the primary tells a joiner before it trusts it.
type ClusterInfo struct {
	Cluster string `json:"cluster"`
	Primary Member `json:"primary"`
	// CA is the cluster CA's certificate (PEM); the joiner checks it
	// against its pin.
	CA string `json:"ca"`
	// Port is the join service's port.
	Port int `json:"port"`
}

// signedInfo is the cluster-info answer: the ClusterInfo JSON exactly as
// the MAC covers it (base64 in JSON) and its MAC.
type signedInfo struct {
	Info []byte `json:"info"`
	MAC  string `json:"mac"`
}

// Request asks the primary to admit a node. Its JSON body travels with its
// MAC in MACHeader.
type Request struct {
	// Token is the token's ID; its secret never travels.
	Token string `json:"token"`
	Name  string `json:"name"`
	// CSR is a PEM certificate request whose CN is Name.
	CSR string `json:"csr"`
	// SSHPublicKey is the node's xroad user key, HostKey its SSH host key
	// (authorized_keys lines).
	SSHPublicKey string `json:"sshPublicKey"`
	HostKey      string `json:"hostKey"`
	// Nonce (32 hex digits) and Time make every request unique and fresh.
	Nonce string    `json:"nonce"`
	Time  time.Time `json:"time"`
}

// Grant is the primary's answer to an admitted node.
type Grant struct {
	// Document is the node's role document (YAML) without its private
	// keys, with its certificate signed by the cluster CA.
	Document string `json:"document"`
}

// errorBody is every refusal's answer.
type errorBody struct {
	Error string `json:"error"`
}

// Refusal is the service's answer to a request it does not grant: an HTTP
// status and a reason for the joiner. Admit returns one to refuse a node
// (409 "name already in the cluster"); any other error from Admit is an
// internal one.
type Refusal struct {
	Status int
	Reason string
}

func (r *Refusal) Error() string { return fmt.Sprintf("%s (%d)", r.Reason, r.Status) }

// Refused is the client's error when the primary answered with a refusal.
type Refused struct {
	Status int
	Reason string
}

func (r *Refused) Error() string {
	return fmt.Sprintf("the primary refused: %s (HTTP %d)", r.Reason, r.Status)
}

// Permanent tells whether asking again cannot help: a 4xx other than 429
// (too many requests), which asks to wait.
func (r *Refused) Permanent() bool {
	return r.Status >= 400 && r.Status < 500 && r.Status != http.StatusTooManyRequests
}

// NewNonce is a random request nonce: 16 bytes as 32 hex digits.
func NewNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// NewCSR makes the PEM certificate request for node name's key.
func NewCSR(key crypto.Signer, name string) (string, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}
