package status

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/test/freeport"
)

const testAPIKey = "3f1c9a7e-SECRET-api-key"

// guideAnswer is guide section 5's example answer: node_1 is WARN.
const guideAnswer = `{
  "ha_configured": true,
  "node_name": "node_0",
  "nodes": [
    {"node_name": "node_0", "node_address": "cs1.example.org", "configuration_generated": "2023-06-06T09:48:02.000Z", "status": "OK"},
    {"node_name": "node_1", "node_address": "cs2.example.org", "configuration_generated": "2023-06-06T09:46:02.000Z", "status": "WARN"}
  ],
  "all_nodes_ok": false
}`

const allOKAnswer = `{"ha_configured": true, "node_name": "node_0", "all_nodes_ok": true, "nodes": [
    {"node_name": "node_0", "node_address": "cs1.example.org", "configuration_generated": "2023-06-06T09:48:02.000Z", "status": "OK"},
    {"node_name": "node_1", "node_address": "cs2.example.org", "configuration_generated": "2023-06-06T09:48:00.000Z", "status": "OK"}]}`

// centerAPI is a central server over TLS with a self-signed certificate,
// as the real one serves its UI; it answers the status path for the test
// key with body and counts the requests it gets.
func centerAPI(t *testing.T, code int, body string) (api string, requests *atomic.Int32) {
	t.Helper()
	requests = &atomic.Int32{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != HAStatusPath || r.Header.Get("Authorization") != "X-Road-ApiKey token="+testAPIKey {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(code)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, requests
}

// csNodeInputs are a provisioned cs-node's inputs whose database is not
// there, with the API key in a file of the given mode.
func csNodeInputs(t *testing.T, api string, keyMode os.FileMode) *Inputs {
	t.Helper()
	dir := t.TempDir()
	doc := &metadata.Document{Version: metadata.Version, Cluster: "cs", Role: metadata.RoleCSNode, Node: "cs1",
		CentralServer: &metadata.CentralServer{
			Database: metadata.CSDatabase{Primary: metadata.Host{Name: "db1", Address: "127.0.0.1"}, Port: freeport.Loopback(t),
				Name: "centerui", Owner: "centerui", Password: "owner-SECRET"},
			Nodes: []metadata.CSNode{{Name: "cs1", Address: "cs1.example.org", HANodeName: "node_0"},
				{Name: "cs2", Address: "cs2.example.org", HANodeName: "node_1"}},
		}}
	in := &Inputs{Doc: doc, DocSource: "frozen:test", State: nodestate.Open(filepath.Join(dir, "state")),
		CenterAPI: api, CenterAPIKeyFile: filepath.Join(dir, "center-api-key"), Timeout: 2 * time.Second}
	writeFile(t, filepath.Join(in.State.Dir(), "provisioned"), "")
	if keyMode != 0 {
		if err := os.WriteFile(in.CenterAPIKeyFile, []byte(testAPIKey+"\n"), keyMode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(in.CenterAPIKeyFile, keyMode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	return in
}

// haProblems are the report's problems apart from the unreachable database,
// whose problem must be there: the database check runs with or without the API.
func haProblems(t *testing.T, r *Report) []string {
	t.Helper()
	var p []string
	dbChecked := false
	for _, s := range r.Problems {
		if strings.HasPrefix(s, "central server HA: ") { // the database check's problem
			dbChecked = true
			continue
		}
		p = append(p, s)
	}
	if !dbChecked {
		t.Errorf("the database check did not run: %q", r.Problems)
	}
	return p
}

// noAPIKey checks the table and the JSON for the API key.
func noAPIKey(t *testing.T, r *Report) {
	t.Helper()
	js, _ := json.Marshal(r)
	for _, out := range []string{textOf(t, r), string(js)} {
		if strings.Contains(out, testAPIKey) || strings.Contains(out, "SECRET") {
			t.Errorf("output shows a secret:\n%s", out)
		}
	}
}

func TestHAClusterStatusAllOK(t *testing.T) {
	api, _ := centerAPI(t, http.StatusOK, allOKAnswer)
	r := Collect(context.Background(), csNodeInputs(t, api, 0o600))
	ha := r.CentralServer.HACluster
	if ha == nil || !ha.Asked || ha.Error != "" || !*ha.HAConfigured || ha.NodeName != "node_0" || !*ha.AllNodesOK ||
		len(ha.Nodes) != 2 || ha.Nodes[1].Name != "node_1" || ha.Nodes[1].Address != "cs2.example.org" ||
		*ha.Nodes[1].ConfigurationGenerated != "2023-06-06T09:48:00.000Z" || ha.Nodes[1].Status != "OK" {
		t.Fatalf("HA cluster = %+v", ha)
	}
	if p := haProblems(t, r); len(p) != 0 {
		t.Fatalf("problems %q", p)
	}
	text := textOf(t, r)
	t.Logf("status on a cs-node:\n%s", text)
	for _, want := range []string{"HA cluster", "ha_configured true, node_name node_0, all_nodes_ok true (" + api + HAStatusPath + ")",
		"node_1", "cs2.example.org", "configuration generated 2023-06-06T09:48:00.000Z"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	js, _ := json.Marshal(r)
	for _, want := range []string{`"haConfigured":true`, `"nodeName":"node_0"`, `"allNodesOk":true`,
		`{"name":"node_1","address":"cs2.example.org","configurationGenerated":"2023-06-06T09:48:00.000Z","status":"OK"}`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("JSON lacks %s:\n%s", want, js)
		}
	}
	noAPIKey(t, r)
}

func TestHAClusterStatusWarnNode(t *testing.T) {
	api, _ := centerAPI(t, http.StatusOK, guideAnswer)
	r := Collect(context.Background(), csNodeInputs(t, api, 0o600))
	want := []string{"HA node node_1 (cs2.example.org) is WARN", "the central server reports all_nodes_ok false"}
	if p := haProblems(t, r); !slices.Equal(p, want) || r.Healthy {
		t.Fatalf("problems %q, want %q", p, want)
	}
	if text := textOf(t, r); !strings.Contains(text, "all_nodes_ok false") || !strings.Contains(text, "WARN") {
		t.Errorf("text:\n%s", text)
	}
	noAPIKey(t, r)
}

func TestHAClusterStatusOtherNodeName(t *testing.T) {
	api, _ := centerAPI(t, http.StatusOK, strings.ReplaceAll(allOKAnswer, `"node_name": "node_0", "all`, `"node_name": "node_1", "all`))
	r := Collect(context.Background(), csNodeInputs(t, api, 0o600))
	want := []string{`the central server calls itself "node_1", the role document names it "node_0"`}
	if p := haProblems(t, r); !slices.Equal(p, want) {
		t.Fatalf("problems %q, want %q", p, want)
	}
}

func TestHAClusterStatusRefusedKey(t *testing.T) {
	api, requests := centerAPI(t, http.StatusOK, allOKAnswer)
	in := csNodeInputs(t, api, 0)
	if err := os.WriteFile(in.CenterAPIKeyFile, []byte("another-SECRET-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := Collect(context.Background(), in)
	p := haProblems(t, r)
	if len(p) != 1 || !strings.Contains(p[0], "401 Unauthorized") || !strings.Contains(p[0], in.CenterAPIKeyFile) || requests.Load() != 1 {
		t.Fatalf("problems %q after %d requests", p, requests.Load())
	}
	noAPIKey(t, r)
}

func TestHAClusterStatusRefusesAnOpenKeyFile(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		api, requests := centerAPI(t, http.StatusOK, allOKAnswer)
		in := csNodeInputs(t, api, mode)
		r := Collect(context.Background(), in)
		p := haProblems(t, r)
		if len(p) != 1 || !strings.Contains(p[0], in.CenterAPIKeyFile+" is open to group or others") || requests.Load() != 0 {
			t.Fatalf("mode %04o: problems %q, %d requests", mode, p, requests.Load())
		}
		noAPIKey(t, r)
	}
}

// TestHAClusterStatusHidesAnEchoedKey has the server echo the request
// headers in an error: the key must not reach the report.
func TestHAClusterStatusHidesAnEchoedKey(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal error handling "+r.Header.Get("Authorization"), http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	r := Collect(context.Background(), csNodeInputs(t, srv.URL, 0o600))
	p := haProblems(t, r)
	if len(p) != 1 || !strings.Contains(p[0], "500 Internal Server Error: internal error handling X-Road-ApiKey token="+metadata.RedactedText) {
		t.Fatalf("problems %q", p)
	}
	noAPIKey(t, r)
}

func TestHAClusterStatusWithoutKeyFile(t *testing.T) {
	api, requests := centerAPI(t, http.StatusOK, allOKAnswer)
	in := csNodeInputs(t, api, 0)
	r := Collect(context.Background(), in)
	ha := r.CentralServer.HACluster
	if ha == nil || ha.Asked || ha.APIKeyFile != in.CenterAPIKeyFile || requests.Load() != 0 {
		t.Fatalf("HA cluster = %+v after %d requests", ha, requests.Load())
	}
	if p := haProblems(t, r); len(p) != 0 || r.CentralServer.HANodeName != "node_0" {
		t.Fatalf("problems %q, section %+v", p, r.CentralServer)
	}
	if text := textOf(t, r); !strings.Contains(text, "not asked: no API key in "+in.CenterAPIKeyFile) ||
		!strings.Contains(text, "ha-node-name node_0") {
		t.Errorf("text:\n%s", text)
	}
}

func TestHAClusterStatusGivesUpOnAHungServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	in := csNodeInputs(t, srv.URL, 0o600)
	in.Timeout = 300 * time.Millisecond
	start := time.Now()
	r := Collect(context.Background(), in)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Collect took %s with a 300ms probe limit", d)
	}
	if p := haProblems(t, r); len(p) != 1 || !strings.HasPrefix(p[0], "HA cluster status: ") {
		t.Fatalf("problems %q", p)
	}
}

func TestCheckCenterAPI(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://127.0.0.1:4000": true, "https://cs1.example.org:4000/": true, "https://[::1]:4000": true,
		"http://127.0.0.1:4000": false, "127.0.0.1:4000": false, "https://": false,
		"https://127.0.0.1:4000/api": false, "https://u:p@127.0.0.1:4000": false,
	} {
		if err := CheckCenterAPI(raw); (err == nil) != ok {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

// TestCenterAPIVerifiesBeyondLoopback: only the node itself may answer
// with an unverified certificate.
func TestCenterAPIVerifiesBeyondLoopback(t *testing.T) {
	for host, skip := range map[string]bool{"127.0.0.1": true, "127.8.9.1": true, "::1": true, "localhost": true,
		"cs1.example.org": false, "10.0.0.11": false} {
		c := centerAPIClient(&url.URL{Scheme: "https", Host: net.JoinHostPort(host, "4000")})
		if got := c.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify; got != skip {
			t.Errorf("%s: InsecureSkipVerify %v", host, got)
		}
	}
}
