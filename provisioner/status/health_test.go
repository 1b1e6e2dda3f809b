package status

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"xroad-appliance/provisioner/metadata"
)

// healthServer answers like the proxy's health check port and returns the
// document that points at it.
func healthServer(t *testing.T, code int, body string) *metadata.Document {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	doc := testDoc(metadata.RolePrimary, "ss1")
	doc.Options.HealthCheckPort = srv.Listener.Addr().(*net.TCPAddr).Port
	return doc
}

func TestHealthCheck(t *testing.T) {
	tests := []struct {
		name, body, want string
		code             int
	}{
		{"healthy", "", "", 200},
		{"failing (guide 3.4.2)", "Fetching health check response timed out for: Authentication key OCSP status\nmore\n", "Fetching health check response timed out for: Authentication key OCSP status", 500},
		{"maintenance", "Health check interface is in maintenance mode", "Health check interface is in maintenance mode", 503},
		{"long line is cut", strings.Repeat("x", 5000), strings.Repeat("x", maxFirstLine), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &Inputs{Doc: healthServer(t, tt.code, tt.body)}
			h, err := probeHealth(context.Background(), in)
			if err != nil || h.StatusCode != tt.code || h.FirstLine != tt.want {
				t.Fatalf("health = %+v, err %v", h, err)
			}
		})
	}
}

func TestHealthCheckClosedPort(t *testing.T) {
	doc := healthServer(t, 200, "")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	doc.Options.HealthCheckPort = l.Addr().(*net.TCPAddr).Port
	l.Close()
	h, err := probeHealth(context.Background(), &Inputs{Doc: doc})
	if err == nil || h.StatusCode != 0 {
		t.Fatalf("health = %+v, err %v", h, err)
	}
}

func TestHealthURLFollowsTheInterface(t *testing.T) {
	for iface, want := range map[string]string{
		"0.0.0.0":  "http://127.0.0.1:5588/",
		"::":       "http://127.0.0.1:5588/",
		"":         "http://127.0.0.1:5588/",
		"10.1.2.3": "http://10.1.2.3:5588/",
		"fd00::5":  "http://[fd00::5]:5588/",
	} {
		doc := testDoc(metadata.RolePrimary, "ss1")
		doc.Options.HealthCheckInterface = iface
		if got := HealthURL(doc); got != want {
			t.Errorf("interface %q: %s, want %s", iface, got, want)
		}
	}
}
