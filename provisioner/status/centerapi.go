package status

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"xroad-appliance/provisioner/metadata"
)

// CenterAPIKeyFile holds the API key the operator creates in the central
// server's UI for the HA cluster status (guide 5). It must be root's alone
// (mode 0600): the key opens the central server's API.
const CenterAPIKeyFile = "/etc/xroad-node/center-api-key"

// DefaultCenterAPI is the central server's UI and API on a cs-node.
const DefaultCenterAPI = "https://127.0.0.1:4000"

// HAStatusPath is the HA cluster status endpoint of guide section 5.
const HAStatusPath = "/api/v1/system/high-availability-cluster/status"

// CenterAPITimeout bounds the status call: the central server answers it
// from its database, and a slow answer must not hold up the report.
const CenterAPITimeout = 3 * time.Second

// haStatusOK is the node status of guide section 5 for a node whose global
// configuration is recent.
const haStatusOK = "OK"

// HACluster is the central server's HA cluster status (guide 5), asked only
// when CenterAPIKeyFile exists.
type HACluster struct {
	URL        string `json:"url"`
	APIKeyFile string `json:"apiKeyFile"`
	// Asked is false when there is no API key file.
	Asked        bool     `json:"asked"`
	HAConfigured *bool    `json:"haConfigured"`
	NodeName     string   `json:"nodeName"`
	AllNodesOK   *bool    `json:"allNodesOk"`
	Nodes        []HANode `json:"nodes"`
	Error        string   `json:"error,omitempty"`
}

// HANode is one node as the configuration database records it.
type HANode struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// ConfigurationGenerated is the API's timestamp, null when never.
	ConfigurationGenerated *string `json:"configurationGenerated"`
	Status                 string  `json:"status"`
}

// haStatus is the API's answer as guide section 5 shows it.
type haStatus struct {
	HAConfigured *bool  `json:"ha_configured"`
	NodeName     string `json:"node_name"`
	Nodes        []struct {
		NodeName               string  `json:"node_name"`
		NodeAddress            string  `json:"node_address"`
		ConfigurationGenerated *string `json:"configuration_generated"`
		Status                 string  `json:"status"`
	} `json:"nodes"`
	AllNodesOK *bool `json:"all_nodes_ok"`
}

// CheckCenterAPI accepts https://host[:port]: the API key travels over TLS only.
func CheckCenterAPI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return fmt.Errorf("%q: want https://host[:port]", raw)
	}
	return nil
}

// probeHACluster asks the central server for its HA cluster status with the
// operator's API key; nil when the inputs name no key file. The key appears
// in no field of the result.
func probeHACluster(ctx context.Context, c *Inputs) *HACluster {
	if c.CenterAPIKeyFile == "" {
		return nil
	}
	ha := &HACluster{URL: strings.TrimRight(c.CenterAPI, "/") + HAStatusPath, APIKeyFile: c.CenterAPIKeyFile, Nodes: []HANode{}}
	key, err := readAPIKey(c.CenterAPIKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return ha
	}
	ha.Asked = true
	if err == nil {
		err = CheckCenterAPI(c.CenterAPI)
	}
	if err != nil {
		ha.Error = err.Error()
		return ha
	}
	st, err := bounded(ctx, min(CenterAPITimeout, c.Timeout), func(ctx context.Context) (haStatus, error) {
		return fetchHAStatus(ctx, ha.URL, key, c.CenterAPIKeyFile)
	})
	if err != nil {
		ha.Error = strings.ReplaceAll(err.Error(), key, metadata.RedactedText)
		return ha
	}
	ha.fill(st)
	return ha
}

// readAPIKey reads the key and refuses a file that group or others may
// open: whoever reads the key can use the central server's API.
func readAPIKey(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s is open to group or others (mode %04o): key not sent; chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(string(b))
	switch {
	case key == "":
		return "", fmt.Errorf("%s is empty", path)
	case strings.ContainsFunc(key, unicode.IsControl):
		return "", fmt.Errorf("%s must hold the key on a single line", path)
	}
	return key, nil
}

// fetchHAStatus makes the guide's call: GET with the X-Road-ApiKey header.
func fetchHAStatus(ctx context.Context, statusURL, key, keyFile string) (haStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, statusURL, nil)
	if err != nil {
		return haStatus{}, err
	}
	req.Header.Set("Authorization", "X-Road-ApiKey token="+key)
	req.Header.Set("Accept", "application/json")
	resp, err := centerAPIClient(req.URL).Do(req)
	if err != nil {
		return haStatus{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return haStatus{}, fmt.Errorf("%s answers %s: the API key in %s was refused", statusURL, resp.Status, keyFile)
	case resp.StatusCode != http.StatusOK:
		return haStatus{}, fmt.Errorf("%s answers %s: %s", statusURL, resp.Status, firstLine(body))
	case err != nil:
		return haStatus{}, fmt.Errorf("%s: reading the answer: %w", statusURL, err)
	}
	var st haStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return haStatus{}, fmt.Errorf("%s: not the HA status JSON: %w", statusURL, err)
	}
	if st.HAConfigured == nil || st.AllNodesOK == nil {
		return haStatus{}, fmt.Errorf("%s: the answer lacks ha_configured or all_nodes_ok", statusURL)
	}
	return st, nil
}

// centerAPIClient follows no redirect and uses no proxy: the key goes to
// the central server and nowhere else. The central server's UI certificate
// is self-signed and names the host, not 127.0.0.1, so the guide itself
// uses curl -k; on a loopback address the key never leaves the node, so
// verification is skipped there and only there.
func centerAPIClient(u *url.URL) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: isLoopback(u.Hostname())}
	return &http.Client{
		Transport:     tr,
		Timeout:       CenterAPITimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func firstLine(body []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return orDash(line)
}

func (ha *HACluster) fill(st haStatus) {
	ha.HAConfigured, ha.NodeName, ha.AllNodesOK = st.HAConfigured, st.NodeName, st.AllNodesOK
	for _, n := range st.Nodes {
		ha.Nodes = append(ha.Nodes, HANode{Name: n.NodeName, Address: n.NodeAddress,
			ConfigurationGenerated: n.ConfigurationGenerated, Status: n.Status})
	}
}

// haClusterProblems judges the central server's answer: every node must be
// OK, and the server must know itself by the role document's ha-node-name.
func haClusterProblems(ha *HACluster, haNodeName string) []string {
	if ha == nil || !ha.Asked {
		return nil
	}
	if ha.Error != "" {
		return []string{"HA cluster status: " + ha.Error}
	}
	var p []string
	if ha.HAConfigured != nil && !*ha.HAConfigured {
		p = append(p, "the central server reports HA as not configured (ha_configured false)")
	} else if haNodeName != "" && ha.NodeName != haNodeName {
		p = append(p, fmt.Sprintf("the central server calls itself %q, the role document names it %q", ha.NodeName, haNodeName))
	}
	for _, n := range ha.Nodes {
		if n.Status != haStatusOK {
			p = append(p, fmt.Sprintf("HA node %s (%s) is %s", n.Name, orDash(n.Address), n.Status))
		}
	}
	if ha.AllNodesOK != nil && !*ha.AllNodesOK {
		p = append(p, "the central server reports all_nodes_ok false")
	}
	return p
}
