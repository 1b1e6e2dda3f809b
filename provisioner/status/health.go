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
)

// maxFirstLine bounds what is kept of the health check's body.
const maxFirstLine = 200

// healthURL is where the proxy answers the health check (guide 3.4): the
// document's interface, or loopback when it listens on every interface.
func healthURL(c *Inputs) string {
	if c.Doc == nil || c.Doc.Options.HealthCheckPort == 0 {
		return ""
	}
	host := c.Doc.Options.HealthCheckInterface
	if ip := net.ParseIP(host); host == "" || ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(c.Doc.Options.HealthCheckPort)) + "/"
}

// probeHealth asks the health check and keeps its status and first line.
func probeHealth(ctx context.Context, c *Inputs) (HealthCheck, error) {
	var h HealthCheck
	target := healthURL(c)
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
