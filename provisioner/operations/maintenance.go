package operations

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maintenanceSet starts the admin port's answer when the mode was changed
// (guide 3.4: "Maintenance mode set: false => true"). The proxy answers 200
// either way; any other line says why nothing changed.
const maintenanceSet = "Maintenance mode set:"

// Maintenance switches the health check's maintenance mode through the
// proxy admin port and reports the server's answer.
func (n *Node) Maintenance(ctx context.Context, on bool) error {
	answer, err := n.askAdmin(ctx, fmt.Sprintf("/maintenance?targetState=%t", on))
	if err != nil {
		return fmt.Errorf("maintenance %s: %w", onOff(on), err)
	}
	if !strings.HasPrefix(answer, maintenanceSet) {
		return fmt.Errorf("maintenance %s: the proxy did not change the mode: %s", onOff(on), answer)
	}
	n.say("proxy admin port: %s", answer)
	return nil
}

// askAdmin GETs path on the local proxy admin port and returns the first
// line of a 200 answer.
func (n *Node) askAdmin(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", n.AdminPort, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	// No proxy from the environment may answer for the node.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("proxy admin port %d: %w (is xroad-proxy running?)", n.AdminPort, err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(io.LimitReader(resp.Body, 512)).ReadString('\n')
	line = strings.TrimSpace(line)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("proxy admin port %d answered %s: %s", n.AdminPort, resp.Status, line)
	}
	return line, nil
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
