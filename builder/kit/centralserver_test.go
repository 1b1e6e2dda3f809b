package kit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"xroad-appliance/provisioner/metadata"
)

// csSpec leaves out the port, the database name, the admin and cs1's HA node
// name, which take their defaults.
const csSpec = `cluster: cs
profile: ubuntu-22.04
centralServer:
  database:
    primary: {name: db1, address: 10.0.0.21}
    standbys:
    - {name: db2, address: 10.0.0.22}
  nodes:
  - {name: cs1, address: 10.0.0.11}
  - {name: cs2, address: cs2.example.org, haNodeName: site_b}
`

func TestCentralServerSpecDefaults(t *testing.T) {
	cs := parseSpec(t, csSpec).CentralServer
	db := cs.Database
	if db.Port != 5432 || db.Name != "centerui" || cs.Admin != "xrdadmin" {
		t.Errorf("defaults: port %d, name %q, admin %q", db.Port, db.Name, cs.Admin)
	}
	if cs.Nodes[0].HANodeName != "node_0" || cs.Nodes[1].HANodeName != "site_b" {
		t.Errorf("HA node names %q, %q; want node_0 and the given site_b", cs.Nodes[0].HANodeName, cs.Nodes[1].HANodeName)
	}
	given := parseSpec(t, strings.Replace(csSpec, "  nodes:", "    port: 6543\n    name: cs-db\n  admin: dbadmin\n  nodes:", 1)).CentralServer
	if given.Database.Port != 6543 || given.Database.Name != "cs-db" || given.Admin != "dbadmin" {
		t.Errorf("given values not kept: %+v", given)
	}
}

func TestGenerateCentralServer(t *testing.T) {
	spec := parseSpec(t, csSpec)
	out := filepath.Join(t.TempDir(), "kit")
	res, err := Generate(*spec, nil, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Nodes) != 4 || res.Generation != 1 {
		t.Fatalf("result: %+v", res)
	}
	checkModes(t, out, 3)
	ca := checkCA(t, out, spec.Cluster)
	docs := map[string]*metadata.Document{}
	for _, n := range res.Nodes {
		docs[n.Name] = checkSeed(t, n)
		checkNodeCert(t, ca, out, spec, n)
		if got := strings.Join(entries(t, n.Dir), ","); got != "ca.crt,meta-data,seed.iso,server.crt,server.key,user-data" {
			t.Errorf("%s: files %s", n.Name, got)
		}
	}
	checkCSDocuments(t, spec, res, docs)
	checkCSEcho(t, out, spec)
}

// checkCSDocuments checks that every node has its role, its own certificate
// and the same view of the cluster with the same passwords, the admin's on
// the database primary and the central servers only.
func checkCSDocuments(t *testing.T, spec *Spec, res *Result, docs map[string]*metadata.Document) {
	t.Helper()
	cs := spec.CentralServer
	caPEM := string(readFile(t, res.Dir, "ca", "ca.crt"))
	want := wantCSSection(cs, docs[cs.Database.Primary.Name].CentralServer.Database)
	var admin metadata.Credentials
	for _, n := range res.Nodes {
		d := docs[n.Name]
		if err := d.Validate(); err != nil {
			t.Errorf("%s: document does not validate: %v", n.Name, err)
		}
		if d.Role != n.Role || d.Node != n.Name || d.Cluster != spec.Cluster || d.Version != metadata.Version {
			t.Errorf("%s: role %s node %q cluster %q version %q", n.Name, d.Role, d.Node, d.Cluster, d.Version)
		}
		if d.TLS.CA != caPEM || d.TLS.Cert != string(readFile(t, n.Dir, "server.crt")) || d.TLS.Key != string(readFile(t, n.Dir, "server.key")) {
			t.Errorf("%s: tls material differs from the files", n.Name)
		}
		got := *d.CentralServer
		if d.Role != metadata.RoleCSDBStandby {
			if admin == (metadata.Credentials{}) {
				admin = got.Admin
			}
			if got.Admin != admin || admin.User != cs.Admin {
				t.Errorf("%s: admin %q differs from the other nodes' or the spec's", n.Name, got.Admin.User)
			}
			got.Admin = metadata.Credentials{}
		}
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("%s: centralServer\n%+v\nwant\n%+v", n.Name, got, *want)
		}
	}
	checkCSPasswords(t, want.Database.Password, want.Database.ReplicationPassword, admin.Password)
	for name, role := range csRoles(cs) {
		if docs[name].Role != role {
			t.Errorf("%s: role %s, want %s", name, docs[name].Role, role)
		}
	}
}

// wantCSSection is the section every document carries, with the database
// passwords taken from db (they are random) and without the admin.
func wantCSSection(cs *CentralServer, db metadata.CSDatabase) *metadata.CentralServer {
	want := &metadata.CentralServer{Database: metadata.CSDatabase{
		Primary: metadata.Host{Name: cs.Database.Primary.Name, Address: cs.Database.Primary.Address},
		Port:    cs.Database.Port, Name: cs.Database.Name, Owner: cs.Database.Name, Password: db.Password,
		ReplicationUser: "standby", ReplicationPassword: db.ReplicationPassword,
	}}
	for _, s := range cs.Database.Standbys {
		want.Database.Standbys = append(want.Database.Standbys, metadata.Host{Name: s.Name, Address: s.Address})
	}
	for _, n := range cs.Nodes {
		want.Nodes = append(want.Nodes, metadata.CSNode{Name: n.Name, Address: n.Address, HANodeName: n.HANodeName})
	}
	return want
}

// checkCSPasswords: three different passwords, each as strong as the serverconf password.
func checkCSPasswords(t *testing.T, pws ...string) {
	t.Helper()
	seen := map[string]bool{}
	for i, pw := range pws {
		if len(pw) != passwordLength || strings.Trim(pw, passwordAlphabet) != "" {
			t.Errorf("password %d: %d chars, alphabet ok %v", i, len(pw), strings.Trim(pw, passwordAlphabet) == "")
		}
		if seen[pw] {
			t.Errorf("password %d repeats another", i)
		}
		seen[pw] = true
	}
}

func csRoles(cs *CentralServer) map[string]metadata.Role {
	roles := map[string]metadata.Role{cs.Database.Primary.Name: metadata.RoleCSDBPrimary}
	for _, s := range cs.Database.Standbys {
		roles[s.Name] = metadata.RoleCSDBStandby
	}
	for _, n := range cs.Nodes {
		roles[n.Name] = metadata.RoleCSNode
	}
	return roles
}

// checkCSEcho: cluster.yaml reads back as the spec; kit.yaml has no SSH keys.
func checkCSEcho(t *testing.T, out string, spec *Spec) {
	t.Helper()
	echo, err := ParseSpec(readFile(t, out, "cluster.yaml"))
	if err != nil {
		t.Fatalf("cluster.yaml does not read back: %v", err)
	}
	if !reflect.DeepEqual(echo, spec) {
		t.Errorf("cluster.yaml reads back as %+v, want %+v", echo, spec)
	}
	st, err := parseState(readFile(t, out, "kit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if st.SSHKeyType != "" || len(st.Nodes) != len(spec.nodes()) {
		t.Errorf("kit.yaml: %+v", st)
	}
	for _, n := range st.Nodes {
		if n.HostKey != "" || n.SSHKey != "" || n.CertSHA256 == "" {
			t.Errorf("kit.yaml: node %+v", n)
		}
	}
}

func TestCentralServerSpecRejected(t *testing.T) {
	// Only a strict decoder sees these; Generate takes an already decoded Spec.
	strictOnly := map[string]bool{"unknown key": true, "unknown node key": true}
	for _, tc := range []struct{ name, from, to, field string }{
		{"both forms", "", "primary: {name: ss1, address: 10.0.0.31}\n", "primary"},
		{"both forms, secondaries only", "", "secondaries: [{name: ss2, address: 10.0.0.32}]\n", "secondaries"},
		{"security-server options", "", "options: {healthCheckPort: 5588}\n", "options"},
		{"neither form", csSpec[strings.Index(csSpec, "centralServer:"):], "", "primary"},
		{"duplicate name across db and cs nodes", "name: cs1,", "name: db2,", "centralServer.nodes[0].name"},
		{"duplicate address across db and cs nodes", "10.0.0.11", "10.0.0.22", "centralServer.nodes[0].address"},
		{"missing database primary", "    primary: {name: db1, address: 10.0.0.21}\n", "", "centralServer.database.primary"},
		{"no nodes", "  nodes:\n  - {name: cs1, address: 10.0.0.11}\n  - {name: cs2, address: cs2.example.org, haNodeName: site_b}\n", "", "centralServer.nodes"},
		{"empty nodes", "  nodes:\n  - {name: cs1, address: 10.0.0.11}\n  - {name: cs2, address: cs2.example.org, haNodeName: site_b}\n", "  nodes: []\n", "centralServer.nodes"},
		{"address with newline", "address: cs2.example.org", `address: "cs2.example.org\nhost=evil"`, "centralServer.nodes[1].address"},
		{"hostile standby name", "name: db2", `name: 'db2"; DROP'`, "centralServer.database.standbys[0].name"},
		{"reserved node name", "name: db1", "name: postgres", "centralServer.database.primary.name"},
		// standby_<name> is the node's slot, which PostgreSQL would cut at 63 bytes.
		{"standby name too long for its slot", "name: db2", "name: dbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "centralServer.database.standbys[0].name"},
		{"duplicate HA node name", "haNodeName: site_b", "haNodeName: node_0", "centralServer.nodes[1].haNodeName"},
		{"HA node name injection", "haNodeName: site_b", `haNodeName: "b\n[proxy]"`, "centralServer.nodes[1].haNodeName"},
		{"port zero", "  nodes:", "    port: 0\n  nodes:", "centralServer.database.port"},
		{"database named like the replication user", "  nodes:", "    name: standby\n  nodes:", "centralServer.database.name"},
		{"database name injection", "  nodes:", "    name: 'x; DROP'\n  nodes:", "centralServer.database.name"},
		{"admin is the owner", "  nodes:", "  admin: centerui\n  nodes:", "centralServer.admin"},
		{"unknown key", "  nodes:", "    user: me\n  nodes:", "unknown key under centralServer.database"},
		{"unknown node key", "{name: cs1, address: 10.0.0.11}", "{name: cs1, address: 10.0.0.11, port: 4000}", "unknown key port under centralServer.nodes[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := csSpec + tc.to
			if tc.from != "" {
				if !strings.Contains(csSpec, tc.from) {
					t.Fatalf("the spec has no %q", tc.from)
				}
				text = strings.Replace(csSpec, tc.from, tc.to, 1)
			}
			_, err := ParseSpec([]byte(text))
			checkSpecError(t, "ParseSpec", err, tc.field, !strictOnly[tc.name])
			if strictOnly[tc.name] {
				return
			}
			// Generate validates a spec it did not parse, and writes nothing.
			s, err := decodeSpec([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			parent := t.TempDir()
			_, err = Generate(*s, nil, filepath.Join(parent, "kit"), Options{})
			checkSpecError(t, "Generate", err, tc.field, true)
			if got := entries(t, parent); len(got) != 0 {
				t.Errorf("Generate left %v behind", got)
			}
		})
	}
}

// checkSpecError wants an error naming field, a *FieldError for it when exact.
func checkSpecError(t *testing.T, what string, err error, field string, exact bool) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), field) {
		t.Fatalf("%s: error %v, want one naming %q", what, err, field)
	}
	var fe *FieldError
	if exact && (!errors.As(err, &fe) || fe.Key != field || !strings.HasPrefix(err.Error(), "key "+field+": ")) {
		t.Fatalf("%s: error %v, want key %s: ...", what, err, field)
	}
}

// failOver makes the first standby the database primary and the old primary
// a standby, and adds a standby.
func failOver(spec *Spec) Spec {
	s := *spec
	cs := *spec.CentralServer
	db := cs.Database
	cs.Database.Primary = db.Standbys[0]
	cs.Database.Standbys = append([]Node{db.Primary}, db.Standbys[1:]...)
	cs.Database.Standbys = append(cs.Database.Standbys, Node{Name: "db3", Address: "10.0.0.23"})
	s.CentralServer = &cs
	return s
}

// A reuse run keeps every secret: the CA, every node's certificate and the
// three passwords, also when the database primary fails over.
func TestCentralServerReuse(t *testing.T) {
	spec := parseSpec(t, csSpec)
	out := filepath.Join(t.TempDir(), "kit")
	first, err := Generate(*spec, nil, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := kitDocs(t, out, spec)

	same, err := Generate(*spec, nil, out, Options{Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range same.Nodes {
		if n.Changed || n.InstanceID != first.Nodes[i].InstanceID {
			t.Errorf("%s: %+v, want unchanged", n.Name, n)
		}
	}

	promoted := failOver(spec)
	res, err := Generate(promoted, nil, out, Options{Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.CAFingerprint != first.CAFingerprint || res.Generation != 3 {
		t.Errorf("CA changed or generation %d, want 3", res.Generation)
	}
	docs := seedDocs(t, res)
	checkCSDocuments(t, &promoted, res, docs)
	checkModes(t, out, 3)
	if docs["db2"].Role != metadata.RoleCSDBPrimary || docs["db1"].Role != metadata.RoleCSDBStandby {
		t.Errorf("roles after fail-over: db1 %s, db2 %s", docs["db1"].Role, docs["db2"].Role)
	}
	for name, old := range before {
		d := docs[name]
		if d.TLS != old.TLS {
			t.Errorf("%s: certificate changed", name)
		}
		if d.CentralServer.Database.Password != old.CentralServer.Database.Password ||
			d.CentralServer.Database.ReplicationPassword != old.CentralServer.Database.ReplicationPassword {
			t.Errorf("%s: database passwords changed", name)
		}
	}
	// The admin moves with the database primary and stays on the central servers.
	if was, is := before["db1"].CentralServer.Admin, docs["db2"].CentralServer.Admin; is != was || is != docs["cs1"].CentralServer.Admin {
		t.Errorf("admin credentials changed: %q, want %q", is.User, was.User)
	}
}

// The database primary may move only to a database node of the kit; a
// refused run writes nothing.
func TestCentralServerReuseRefusesOtherPrimary(t *testing.T) {
	spec := parseSpec(t, csSpec)
	parent := t.TempDir()
	out := filepath.Join(parent, "kit")
	if _, err := Generate(*spec, nil, out, Options{}); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, parent)
	for _, primary := range []Node{{Name: "db9", Address: "10.0.0.29"}, spec.CentralServer.Nodes[0].Node} {
		moved := *spec
		cs := *spec.CentralServer
		cs.Database.Primary = primary
		cs.Nodes = cs.Nodes[1:]
		moved.CentralServer = &cs
		_, err := Generate(moved, nil, out, Options{Reuse: true})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Key != "centralServer.database.primary.name" {
			t.Errorf("primary %s: got %v, want an error naming centralServer.database.primary.name", primary.Name, err)
		}
	}
	if !reflect.DeepEqual(before, snapshotTree(t, parent)) {
		t.Error("a refused run changed the output directory")
	}
}

// A security-server kit cannot be reused for a central-server spec, nor the
// other way round.
func TestReuseRefusesOtherKind(t *testing.T) {
	ss := parseSpec(t, strings.Replace(clusterSpec, "%s", "ubuntu-22.04", 1))
	cs := parseSpec(t, strings.Replace(csSpec, "cluster: cs", "cluster: "+ss.Cluster, 1))
	for _, tc := range []struct {
		name        string
		kit, reused *Spec
	}{{"security-server kit", ss, cs}, {"central-server kit", cs, ss}} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "kit")
			if _, err := Generate(*tc.kit, nil, out, Options{}); err != nil {
				t.Fatal(err)
			}
			before := snapshotTree(t, parent)
			_, err := Generate(*tc.reused, nil, out, Options{Reuse: true})
			if err == nil || !strings.Contains(err.Error(), "the kit is for a "+tc.kit.kind()+" cluster") {
				t.Fatalf("got %v, want a refusal naming both kinds", err)
			}
			if !reflect.DeepEqual(before, snapshotTree(t, parent)) {
				t.Error("the refused run changed the output directory")
			}
		})
	}
}

// The provisioner's reader takes a central-server seed as it takes any other.
func TestProvisionerReadsCentralServerSeed(t *testing.T) {
	res, err := Generate(*parseSpec(t, csSpec), nil, filepath.Join(t.TempDir(), "kit"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range res.Nodes {
		root := t.TempDir()
		seed := filepath.Join(root, metadata.SeedDir)
		if err := os.MkdirAll(seed, 0o700); err != nil {
			t.Fatal(err)
		}
		ud := readFile(t, n.Dir, "user-data")
		if err := os.WriteFile(filepath.Join(seed, "user-data"), ud, 0o600); err != nil {
			t.Fatal(err)
		}
		doc, _, err := metadata.Load(metadata.Sources{Root: root, Owner: os.Getuid()}, "")
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		want, _ := roleDocument(ud)
		if !reflect.DeepEqual(doc, want) || doc.Role != n.Role || !bytes.Contains(ud, []byte("centralServer:")) {
			t.Errorf("%s: document read from the seed directory differs", n.Name)
		}
	}
}

func TestCentralServerKitRefusesProfilesWithoutItsDatabase(t *testing.T) {
	spec := parseSpec(t, strings.Replace(csSpec, "profile: ubuntu-22.04", "profile: rhel-7", 1))
	out := filepath.Join(t.TempDir(), "kit")
	_, err := Generate(*spec, nil, out, Options{})
	if err == nil || !strings.Contains(err.Error(), "profile") || !strings.Contains(err.Error(), "systemd 219") {
		t.Errorf("rhel-7: %v", err)
	}
	if _, statErr := os.Stat(out); statErr == nil {
		t.Error("output written")
	}
	// Database nodes on rhel-8, central servers on an Ubuntu image.
	spec = parseSpec(t, strings.Replace(csSpec, "profile: ubuntu-22.04", "profile: rhel-8", 1))
	if _, err := Generate(*spec, nil, filepath.Join(t.TempDir(), "kit"), Options{}); err != nil {
		t.Errorf("rhel-8: %v", err)
	}
}
