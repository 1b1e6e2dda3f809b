package status

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xroad-appliance/builder/kit"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/units"
)

// TestNodeInputsFromARealKit lays out a node's files under a temporary root
// the way an image and a first boot leave them (baked facts, frozen role
// document from an xroad-image kit) and checks what status reads and that
// none of the document's secrets reaches its output.
func TestNodeInputsFromARealKit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the frozen document must be owned by root")
	}
	facts := debianFacts(t)
	spec := kit.Spec{Cluster: "c1", Primary: kit.Node{Name: "ss1", Address: "10.0.0.1"},
		Secondaries: []kit.Node{{Name: "ss2", Address: "10.0.0.2"}}, Options: kit.DefaultOptions()}
	res, err := kit.Generate(spec, facts, filepath.Join(t.TempDir(), "kit"), kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range res.Nodes {
		t.Run(string(n.Role), func(t *testing.T) {
			ud, err := os.ReadFile(filepath.Join(n.Dir, "user-data"))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := metadata.FromUserData(ud)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := metadata.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			if err := nodestate.Open(root).Freeze(doc); err != nil {
				t.Fatal(err)
			}
			baked, err := units.Bake(facts, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range baked {
				if f.Path == nodestate.FactsFile {
					writeFile(t, filepath.Join(root, f.Path), string(f.Content))
				}
			}

			in := NodeInputs(context.Background(), root)
			defer in.Close()
			if in.DocErr != nil || in.FactsErr != nil || in.DocSource != "frozen:"+nodestate.FrozenFile {
				t.Fatalf("doc %v (%s), facts %v", in.DocErr, in.DocSource, in.FactsErr)
			}
			if in.SyncLog != filepath.Join(root, units.SyncLog) || in.State.Dir() != filepath.Join(root, nodestate.Dir) ||
				in.SyncHome != filepath.Join(root, facts.SyncUser.Home) {
				t.Fatalf("paths not under root: %+v", in)
			}
			r := Collect(context.Background(), in)
			if r.Node.Name != n.Name || r.Node.Role != string(n.Role) || r.Node.Cluster != "c1" || r.Node.Error != "" {
				t.Fatalf("node = %+v", r.Node)
			}
			if r.Serverconf.Unit != "postgresql@15-serverconf.service" || r.Serverconf.Port != 5433 || r.HealthCheck.URL != "http://127.0.0.1:5588/" {
				t.Fatalf("report = %+v", r)
			}

			js, _ := json.Marshal(r)
			out := textOf(t, r) + string(js)
			for _, secret := range []string{doc.ServerconfPassword, doc.TLS.Key, doc.SSH.PrivateKey, doc.SSH.HostKey, "PRIVATE KEY", "CERTIFICATE"} {
				if secret != "" && strings.Contains(out, strings.TrimSpace(secret)) {
					t.Errorf("output shows a secret of the document:\n%s", out)
				}
			}
		})
	}
}
