package status

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"xroad-appliance/provisioner/metadata"
)

// maxFirstLine bounds what is kept of the health check's body.
const maxFirstLine = 200

// HealthURL is where the proxy answers the health check (guide 3.4): the
// document's interface, or loopback when it listens on every interface.
func HealthURL(doc *metadata.Document) string {
	if doc == nil || doc.Options.HealthCheckPort == 0 {
		return ""
	}
	host := doc.Options.HealthCheckInterface
	if ip := net.ParseIP(host); host == "" || ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(doc.Options.HealthCheckPort)) + "/"
}

func probeHealth(ctx context.Context, c *Inputs) (HealthCheck, error) {
	return ProbeHealth(ctx, HealthURL(c.Doc))
}

// ProbeHealth asks the health check at target and keeps its status and
// first line.
func ProbeHealth(ctx context.Context, target string) (HealthCheck, error) {
	var h HealthCheck
	if target == "" {
		return h, errors.New("health check port unknown without the role document")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return h, fmt.Errorf("health check: %w", err)
	}
	// Not http.DefaultClient: a proxy from the environment must not answer for the node.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		// The report shows the URL already; keep what went wrong.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return h, fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	h.StatusCode = resp.StatusCode
	line, err := bufio.NewReader(io.LimitReader(resp.Body, maxFirstLine)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return h, fmt.Errorf("health check body: %w", err)
	}
	h.FirstLine = strings.TrimSpace(line)
	return h, nil
}
