package kit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"xroad-appliance/provisioner/metadata"
)

const clusterSpec = `cluster: prod
profile: %s
primary: {name: ss-primary, address: 10.20.0.10}
secondaries:
  - {name: ss-replica1, address: 10.20.0.11}
  - {name: ss-replica2, address: replica2.example.org}
options:
  healthCheckPort: 5588
  healthCheckInterface: 0.0.0.0
`

func parseSpec(t *testing.T, text string) *Spec {
	t.Helper()
	s, err := ParseSpec([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readFile(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGenerate(t *testing.T) {
	for _, tc := range []struct{ profile, algo string }{
		{"debian-12", ssh.KeyAlgoED25519},
		{"rhel-8", ssh.KeyAlgoECDSA256},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			spec := parseSpec(t, strings.Replace(clusterSpec, "%s", tc.profile, 1))
			out := filepath.Join(t.TempDir(), "kit")
			res, err := Generate(*spec, nil, out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Nodes) != 3 || res.Generation != 1 || res.PreviousDir != "" {
				t.Fatalf("result: %+v", res)
			}
			checkModes(t, out, 5)
			ca := checkCA(t, out, spec.Cluster)
			docs := map[string]*metadata.Document{}
			ids := map[string]bool{}
			for _, n := range res.Nodes {
				docs[n.Name] = checkSeed(t, n)
				checkNodeCert(t, ca, out, spec, n)
				if ids[n.InstanceID] {
					t.Errorf("%s: instance-id %s reused", n.Name, n.InstanceID)
				}
				ids[n.InstanceID] = true
			}
			checkDocuments(t, spec, res, docs, tc.algo)
			checkEcho(t, out, spec)
		})
	}
}

// checkModes: private material 0600, directories 0700, nothing world-writable.
// Each node has privatePerNode private files: server.key, user-data, seed.iso
// and on a security server its host key and user key; the kit has ca.key and
// with a join section join/user-data.
func checkModes(t *testing.T, root string, privatePerNode int) {
	t.Helper()
	secret := map[string]bool{"ca.key": true, "server.key": true, "user-data": true, "seed.iso": true,
		"id_ed25519": true, "id_ecdsa": true, "ssh_host_ed25519_key": true, "ssh_host_ecdsa_key": true}
	seen := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode().Perm()
		switch {
		case d.IsDir():
			if mode != 0o700 {
				t.Errorf("%s: directory mode %o, want 700", p, mode)
			}
		case secret[d.Name()]:
			seen++
			if mode != 0o600 {
				t.Errorf("%s: mode %o, want 600", p, mode)
			}
		case mode != 0o644:
			t.Errorf("%s: mode %o, want 644", p, mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := 1 + privatePerNode*len(entries(t, filepath.Join(root, "nodes")))
	if _, err := os.Stat(filepath.Join(root, "join", "user-data")); err == nil {
		want++
	}
	if seen != want {
		t.Errorf("saw %d private files, want %d", seen, want)
	}
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("no certificate in %q", data)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func checkCA(t *testing.T, out, cluster string) *x509.Certificate {
	t.Helper()
	ca := parseCert(t, readFile(t, out, "ca", "ca.crt"))
	if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: IsCA %v, key usage %b", ca.IsCA, ca.KeyUsage)
	}
	if ca.Subject.CommonName != cluster+" CA" || len(ca.Subject.Organization) != 1 || ca.Subject.Organization[0] != cluster {
		t.Errorf("CA subject %s", ca.Subject)
	}
	if pk, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || pk.Curve != elliptic.P256() {
		t.Errorf("CA key %T, want ECDSA P-256", ca.PublicKey)
	}
	if life := ca.NotAfter.Sub(time.Now()); life < 7299*24*time.Hour || life > 7301*24*time.Hour {
		t.Errorf("CA valid for %v, want 7300 days", life)
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Errorf("CA not self-signed: %v", err)
	}
	k, err := parseCertKey(readFile(t, out, "ca", "ca.crt"), readFile(t, out, "ca", "ca.key"))
	if err != nil || k == nil {
		t.Errorf("ca.key: %v", err)
	}
	return ca
}

func checkNodeCert(t *testing.T, ca *x509.Certificate, out string, spec *Spec, n NodeResult) {
	t.Helper()
	crt := parseCert(t, readFile(t, n.Dir, "server.crt"))
	if crt.Subject.CommonName != n.Name || crt.Subject.Organization[0] != spec.Cluster {
		t.Errorf("%s: subject %s", n.Name, crt.Subject)
	}
	if crt.IsCA || crt.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
		t.Errorf("%s: IsCA %v key usage %b", n.Name, crt.IsCA, crt.KeyUsage)
	}
	if err := crt.VerifyHostname(n.Address); err != nil {
		t.Errorf("%s: %v", n.Name, err)
	}
	if err := crt.VerifyHostname(n.Name); err != nil {
		t.Errorf("%s: %v", n.Name, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, use := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := crt.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{use}}); err != nil {
			t.Errorf("%s: verify for %v: %v", n.Name, use, err)
		}
	}
	if _, err := parseCertKey(readFile(t, n.Dir, "server.crt"), readFile(t, n.Dir, "server.key")); err != nil {
		t.Errorf("%s: server.key: %v", n.Name, err)
	}
	if !bytes.Equal(readFile(t, n.Dir, "ca.crt"), readFile(t, out, "ca", "ca.crt")) {
		t.Errorf("%s: ca.crt differs from the kit's", n.Name)
	}
	// The real verifier, for both roles a node plays.
	for _, purpose := range []string{"sslserver", "sslclient"} {
		cmd := exec.Command("openssl", "verify", "-purpose", purpose, "-CAfile", filepath.Join(out, "ca", "ca.crt"), filepath.Join(n.Dir, "server.crt"))
		if b, err := cmd.CombinedOutput(); err != nil || !strings.HasSuffix(strings.TrimSpace(string(b)), ": OK") {
			t.Errorf("%s: openssl verify -purpose %s: %v: %s", n.Name, purpose, err, b)
		}
	}
	// openssl must read the key too (PostgreSQL loads it through OpenSSL).
	if b, err := exec.Command("openssl", "pkey", "-noout", "-in", filepath.Join(n.Dir, "server.key")).CombinedOutput(); err != nil {
		t.Errorf("%s: openssl pkey: %v: %s", n.Name, err, b)
	}
}

// checkSeed reads user-data, meta-data and the ISO of one node and returns its document.
func checkSeed(t *testing.T, n NodeResult) *metadata.Document {
	t.Helper()
	ud := readFile(t, n.Dir, "user-data")
	md := readFile(t, n.Dir, "meta-data")
	if !bytes.HasPrefix(ud, []byte("#cloud-config\n")) {
		t.Fatalf("%s: user-data does not start with #cloud-config", n.Name)
	}
	var cc struct {
		WriteFiles []map[string]any `yaml:"write_files"`
	}
	if err := yaml.Unmarshal(ud, &cc); err != nil {
		t.Fatal(err)
	}
	if len(cc.WriteFiles) != 1 {
		t.Fatalf("%s: %d write_files entries", n.Name, len(cc.WriteFiles))
	}
	wf := cc.WriteFiles[0]
	// permissions must stay the string '0600', not an integer YAML reads as 600 or 384.
	if wf["path"] != metadata.RoleFile || wf["permissions"] != "0600" || wf["owner"] != "root:root" {
		t.Errorf("%s: write_files entry %v", n.Name, map[string]any{"path": wf["path"], "permissions": wf["permissions"], "owner": wf["owner"]})
	}
	content, _ := wf["content"].(string)
	doc, err := metadata.Parse([]byte(content))
	if err != nil {
		t.Fatalf("%s: role document: %v", n.Name, err)
	}

	var meta map[string]string
	if err := yaml.Unmarshal(md, &meta); err != nil {
		t.Fatal(err)
	}
	if meta["instance-id"] != n.InstanceID || !strings.HasPrefix(n.InstanceID, "xroad-") || meta["local-hostname"] != n.Name || len(meta) != 2 {
		t.Errorf("%s: meta-data %v", n.Name, meta)
	}

	checkISO(t, n.SeedISO, map[string][]byte{"user-data": ud, "meta-data": md})
	return doc
}

func checkISO(t *testing.T, iso string, want map[string][]byte) {
	t.Helper()
	d, err := diskfs.Open(iso, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fs, err := d.GetFilesystem(0)
	if err != nil {
		t.Fatal(err)
	}
	// go-diskfs pads the volume identifier with NULs, not spaces; blkid and
	// the metadata reader trim both.
	if l := strings.Trim(fs.Label(), " \x00"); l != metadata.CidataLabel {
		t.Errorf("%s: label %q", iso, l)
	}
	entries, err := fs.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "meta-data,user-data" {
		t.Errorf("%s: root holds %v", iso, names)
	}
	for name, data := range want {
		got, err := fs.ReadFile(name)
		if err != nil {
			t.Fatalf("%s: %s: %v", iso, name, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s: %s differs from the kit's file", iso, name)
		}
	}

	// cloud-init finds its seed with blkid by label and type.
	if b, err := exec.Command("blkid", "-p", "-o", "export", iso).CombinedOutput(); err != nil {
		t.Logf("blkid: %v: %s", err, b)
	} else if !bytes.Contains(b, []byte("LABEL=cidata\n")) || !bytes.Contains(b, []byte("TYPE=iso9660\n")) {
		t.Errorf("blkid sees:\n%s", b)
	}

	// And as Linux and cloud-init see it, when xorriso is installed.
	if _, err := exec.LookPath("xorriso"); err != nil {
		t.Log("xorriso not installed; skipping its check")
		return
	}
	out, err := exec.Command("xorriso", "-indev", iso, "-pvd_info", "-ls").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso: %v: %s", err, out)
	}
	for _, s := range []string{"Volume Id    : cidata", "'meta-data'", "'user-data'"} {
		if !bytes.Contains(out, []byte(s)) {
			t.Errorf("xorriso output lacks %q:\n%s", s, out)
		}
	}
	dir := t.TempDir()
	for name, data := range want {
		dst := filepath.Join(dir, name)
		if b, err := exec.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/"+name, dst).CombinedOutput(); err != nil {
			t.Fatalf("xorriso -extract %s: %v: %s", name, err, b)
		}
		if !bytes.Equal(readFile(t, dst), data) {
			t.Errorf("%s: %s extracted by xorriso differs", iso, name)
		}
	}
}

func sshKeygenPublic(t *testing.T, file string) string {
	t.Helper()
	b, err := exec.Command("ssh-keygen", "-y", "-f", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen -y -f %s: %v: %s", file, err, b)
	}
	f := strings.Fields(string(b))
	return f[0] + " " + f[1]
}

// parseKey parses an OpenSSH private key and returns its authorized_keys line.
func parseKey(t *testing.T, priv, algo string) string {
	t.Helper()
	s, err := ssh.ParsePrivateKey([]byte(priv))
	if err != nil {
		t.Fatal(err)
	}
	if s.PublicKey().Type() != algo {
		t.Errorf("key type %s, want %s", s.PublicKey().Type(), algo)
	}
	if !strings.HasPrefix(priv, "-----BEGIN OPENSSH PRIVATE KEY-----") {
		t.Errorf("not in OpenSSH format")
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

// ownKeys are the public halves of one node's SSH keys.
type ownKeys struct{ host, user string }

// checkOwnKeys checks that a node's document, key files and ssh-keygen agree
// on its host key and xroad user key, and returns their public halves.
func checkOwnKeys(t *testing.T, dir string, d *metadata.Document, algo string) ownKeys {
	t.Helper()
	keyType := strings.TrimPrefix(strings.TrimSuffix(algo, "-sha2-nistp256"), "ssh-")
	k := ownKeys{host: parseKey(t, d.SSH.HostKey, algo), user: parseKey(t, d.SSH.PrivateKey, algo)}
	if d.SSH.PublicKey != k.user {
		t.Errorf("%s: ssh.publicKey is not the public half of ssh.privateKey", d.Node)
	}
	for _, f := range []struct{ file, private, public, comment string }{
		{"ssh_host_" + keyType + "_key", d.SSH.HostKey, k.host, "root@" + d.Node},
		{"id_" + keyType, d.SSH.PrivateKey, k.user, "xroad@" + d.Node},
	} {
		file := filepath.Join(dir, f.file)
		if string(readFile(t, file)) != f.private || sshKeygenPublic(t, file) != f.public {
			t.Errorf("%s: %s disagrees with the document", d.Node, f.file)
		}
		if string(readFile(t, file+".pub")) != f.public+" "+f.comment+"\n" {
			t.Errorf("%s: %s.pub does not match", d.Node, f.file)
		}
	}
	return k
}

// checkDocuments checks that every document validates, carries the node's own
// keys, and names the same primary and the same secondaries with the keys the
// other documents carry.
func checkDocuments(t *testing.T, spec *Spec, res *Result, docs map[string]*metadata.Document, algo string) {
	t.Helper()
	caPEM := string(readFile(t, res.Dir, "ca", "ca.crt"))
	pw := docs[spec.Primary.Name].ServerconfPassword
	if len(pw) < 24 || strings.Trim(pw, passwordAlphabet) != "" {
		t.Errorf("serverconf password %d chars, alphabet ok %v", len(pw), strings.Trim(pw, passwordAlphabet) == "")
	}

	keys := map[string]ownKeys{}
	hostKeys := map[string]string{}
	for _, n := range spec.nodes() {
		d := docs[n.Name]
		if err := d.Validate(); err != nil {
			t.Errorf("%s: document does not validate: %v", n.Name, err)
		}
		k := checkOwnKeys(t, filepath.Join(res.Dir, "nodes", n.Name), d, algo)
		if other, dup := hostKeys[k.host]; dup {
			t.Errorf("%s and %s share a host key", n.Name, other)
		}
		if k.host == k.user {
			t.Errorf("%s: host key and user key are the same", n.Name)
		}
		hostKeys[k.host], keys[n.Name] = n.Name, k
	}

	wantPrimary := metadata.Primary{Name: spec.Primary.Name, Address: spec.Primary.Address,
		HostKey: keys[spec.Primary.Name].host, SSHPublicKey: keys[spec.Primary.Name].user}
	var wantMembers []metadata.Member
	for _, s := range spec.Secondaries {
		wantMembers = append(wantMembers, metadata.Member{Name: s.Name, Address: s.Address,
			SSHPublicKey: keys[s.Name].user, HostKey: keys[s.Name].host})
	}
	for i, n := range spec.nodes() {
		d := docs[n.Name]
		dir := filepath.Join(res.Dir, "nodes", n.Name)
		wantRole := metadata.RoleSecondary
		if i == 0 {
			wantRole = metadata.RolePrimary
		}
		if d.Version != metadata.Version || d.Cluster != spec.Cluster || d.Node != n.Name || d.Role != wantRole {
			t.Errorf("%s: version %q cluster %q node %q role %s", n.Name, d.Version, d.Cluster, d.Node, d.Role)
		}
		if d.Primary != wantPrimary {
			t.Errorf("%s: primary %+v, want %+v", n.Name, d.Primary, wantPrimary)
		}
		if !reflect.DeepEqual(d.Secondaries, wantMembers) {
			t.Errorf("%s: secondaries %+v, want %+v", n.Name, d.Secondaries, wantMembers)
		}
		if d.ServerconfPassword != pw || d.Options != spec.Options {
			t.Errorf("%s: password or options differ from the primary's", n.Name)
		}
		if d.TLS.CA != caPEM || d.TLS.Cert != string(readFile(t, dir, "server.crt")) || d.TLS.Key != string(readFile(t, dir, "server.key")) {
			t.Errorf("%s: tls material differs from the files", n.Name)
		}
	}
}

func checkEcho(t *testing.T, out string, spec *Spec) {
	t.Helper()
	echo, err := ParseSpec(readFile(t, out, "cluster.yaml"))
	if err != nil {
		t.Fatalf("cluster.yaml does not read back: %v", err)
	}
	a, _ := spec.Marshal()
	b, _ := echo.Marshal()
	if !bytes.Equal(a, b) {
		t.Errorf("cluster.yaml:\n%s\nwant\n%s", b, a)
	}
	st, err := parseState(readFile(t, out, "kit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 3 {
		t.Fatalf("kit.yaml: %+v", st)
	}
	for _, n := range st.Nodes {
		if !strings.HasPrefix(n.HostKey, "SHA256:") || !strings.HasPrefix(n.SSHKey, "SHA256:") || n.HostKey == n.SSHKey {
			t.Errorf("kit.yaml: node %s: host key %q, ssh key %q", n.Name, n.HostKey, n.SSHKey)
		}
	}
}

func TestSpecRejected(t *testing.T) {
	const ok = "cluster: c\nprimary: {name: p, address: 10.0.0.1}\nsecondaries: [{name: s1, address: 10.0.0.2}]\n"
	// Only a strict decoder sees these; Generate takes an already decoded Spec.
	strictOnly := map[string]bool{"unknown key": true, "unknown nested key": true, "two documents": true, "empty": true,
		"password as a key": true, "password as a nested key": true, "secondaries not a list": true, "port not a number": true}
	for _, tc := range []struct{ name, spec, field string }{
		{"missing cluster", "primary: {name: p, address: 10.0.0.1}\nsecondaries: [{name: s1, address: 10.0.0.2}]\n", "cluster"},
		{"duplicate names", "cluster: c\nprimary: {name: p, address: 10.0.0.1}\nsecondaries:\n  - {name: s1, address: 10.0.0.2}\n  - {name: s1, address: 10.0.0.3}\n", "secondaries[1].name"},
		{"secondary named like primary", "cluster: c\nprimary: {name: p, address: 10.0.0.1}\nsecondaries: [{name: p, address: 10.0.0.2}]\n", "secondaries[0].name"},
		{"hostile name", "cluster: c\nprimary: {name: 'a\"; DROP', address: 10.0.0.1}\nsecondaries: [{name: s1, address: 10.0.0.2}]\n", "primary.name"},
		{"address with newline", "cluster: c\nprimary: {name: p, address: \"10.0.0.1\\nHost *\"}\nsecondaries: [{name: s1, address: 10.0.0.2}]\n", "primary.address"},
		{"unknown key", ok + "replicas: 3\n", "line 4: unknown key at the top level"},
		{"password as a key", ok + "adminUser:\n  name: admin\nS3cretHunter2: x\n", "line 6: unknown key at the top level"},
		{"password as a nested key", ok + "adminUser:\n  name: admin\n  S3cretHunter2:\n", "line 6: unknown key under adminUser"},
		{"secondaries not a list", "cluster: c\nprimary: {name: p, address: 10.0.0.1}\nsecondaries: S3cretHunter2\n", "secondaries: line 3: must be a list, found a string"},
		{"port not a number", ok + "options: {healthCheckPort: S3cretHunter2}\n", "options.healthCheckPort: line 4: must be an integer"},
		{"unknown nested key", "cluster: c\nprimary: {name: p, address: 10.0.0.1, port: 5433}\nsecondaries: [{name: s1, address: 10.0.0.2}]\n", "unknown key port under primary"},
		{"no secondaries", "cluster: c\nprimary: {name: p, address: 10.0.0.1}\n", "secondaries"},
		{"empty secondaries", "cluster: c\nprimary: {name: p, address: 10.0.0.1}\nsecondaries: []\n", "secondaries"},
		{"bad profile", ok + "profile: windows-95\n", "profile"},
		{"uppercase name", "cluster: C\nprimary: {name: p, address: 10.0.0.1}\nsecondaries: [{name: s1, address: 10.0.0.2}]\n", "cluster"},
		{"name too long", "cluster: c\nprimary: {name: p" + strings.Repeat("x", 63) + ", address: 10.0.0.1}\nsecondaries: [{name: s1, address: 10.0.0.2}]\n", "primary.name"},
		{"missing address", "cluster: c\nprimary: {name: p, address: 10.0.0.1}\nsecondaries: [{name: s1}]\n", "secondaries[0].address"},
		{"quote in address", "cluster: c\nprimary: {name: p, address: \"h'ost\"}\nsecondaries: [{name: s1, address: 10.0.0.2}]\n", "primary.address"},
		{"bad ip", "cluster: c\nprimary: {name: p, address: 10.0.0.300}\nsecondaries: [{name: s1, address: 10.0.0.2}]\n", "primary.address"},
		{"duplicate address", "cluster: c\nprimary: {name: p, address: 10.0.0.1}\nsecondaries: [{name: s1, address: 10.0.0.1}]\n", "secondaries[0].address"},
		{"one host name spelt twice", "cluster: c\nprimary: {name: p, address: P.example.org}\nsecondaries: [{name: s1, address: p.example.org.}]\n", "secondaries[0].address"},
		{"IPv6 address", "cluster: c\nprimary: {name: p, address: 'fd00::11'}\nsecondaries: [{name: s1, address: 10.0.0.2}]\n", "primary.address"},
		{"bad port", ok + "options: {healthCheckPort: 70000}\n", "options.healthCheckPort"},
		{"port zero", ok + "options: {healthCheckPort: 0}\n", "options.healthCheckPort"},
		{"reserved name", "cluster: c\nprimary: {name: p, address: 10.0.0.1}\nsecondaries: [{name: postgres, address: 10.0.0.2}]\n", "secondaries[0].name"},
		{"unspecified address", "cluster: c\nprimary: {name: p, address: 0.0.0.0}\nsecondaries: [{name: s1, address: 10.0.0.2}]\n", "primary.address"},
		{"bad interface", ok + "options: {healthCheckInterface: 'eth0; rm'}\n", "options.healthCheckInterface"},
		{"empty", "", "empty"},
		{"two documents", ok + "---\n" + ok, "second YAML document"},
		{"clear-text admin password", ok + "adminUser: {name: admin, password: Secret123456}\n", "adminUser.password"},
		{"admin hash not a hash", ok + "adminUser: {name: admin, passwordHash: Secret123456}\n", "adminUser.passwordHash"},
		{"admin user reserved", ok + "adminUser: {name: postgres}\n", "adminUser.name"},
		{"admin user bad name", ok + "adminUser: {name: 'Ad min'}\n", "adminUser.name"},
		{"bad public name", ok + "publicName: 'ss example'\n", "publicName"},
		{"too many secondaries", "cluster: c\nprimary: {name: p, address: 10.0.0.1}\nsecondaries:\n" + manySecondaries(metadata.MaxSecondaries+1), "secondaries: 21 listed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tc.spec))
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("ParseSpec: error %v, want one naming %q", err, tc.field)
			}
			if strings.Contains(err.Error(), "S3cret") {
				t.Fatalf("ParseSpec: error quotes the spec: %v", err)
			}
			// Generate validates a spec it did not parse, and writes nothing.
			s := Spec{Options: DefaultOptions()}
			if strictOnly[tc.name] || yaml.Unmarshal([]byte(tc.spec), &s) != nil {
				return
			}
			parent := t.TempDir()
			_, err = Generate(s, nil, filepath.Join(parent, "kit"), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Generate: error %v, want one naming %q", err, tc.field)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("Generate left %v behind", entries)
			}
		})
	}
}

func TestFieldError(t *testing.T) {
	_, err := ParseSpec([]byte("cluster: c\nprimary: {name: p, address: 10.0.0.1}\nsecondaries: [{name: Bad, address: 10.0.0.2}]\n"))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "secondaries[0].name" {
		t.Fatalf("got %v", err)
	}
}

func TestProfileMismatch(t *testing.T) {
	spec := parseSpec(t, strings.Replace(clusterSpec, "%s", "debian-12", 1))
	facts := mustResolve(t, "rhel-8")
	parent := t.TempDir()
	if _, err := Generate(*spec, facts, filepath.Join(parent, "kit"), Options{}); err == nil || !strings.Contains(err.Error(), "profile") {
		t.Fatalf("got %v", err)
	}
	spec.Profile = ""
	if _, err := Generate(*spec, nil, filepath.Join(parent, "kit"), Options{}); err == nil || !strings.Contains(err.Error(), "profile") {
		t.Fatalf("no profile anywhere: got %v", err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("left %v behind", entries)
	}
}

// The provisioner's own reader finds each node's document on the seed ISO (as a
// volume labelled cidata) and in a NoCloud seed directory.
func TestProvisionerReadsSeed(t *testing.T) {
	spec := parseSpec(t, strings.Replace(clusterSpec, "%s", "debian-12", 1))
	res, err := Generate(*spec, nil, filepath.Join(t.TempDir(), "kit"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range res.Nodes {
		want, err := roleDocument(readFile(t, n.Dir, "user-data"))
		if err != nil {
			t.Fatal(err)
		}

		root := t.TempDir()
		byLabel := filepath.Join(root, metadata.LabelDir)
		if err := os.MkdirAll(byLabel, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(n.SeedISO, filepath.Join(byLabel, metadata.CidataLabel)); err != nil {
			t.Fatal(err)
		}
		doc, origin, err := metadata.Load(metadata.Sources{Root: root, Owner: os.Getuid()}, "")
		if err != nil || !strings.HasPrefix(origin, "cidata:") {
			t.Fatalf("%s: load from the ISO: %v (origin %q)", n.Name, err, origin)
		}
		if !reflect.DeepEqual(doc, want) {
			t.Errorf("%s: document read from the ISO differs", n.Name)
		}

		root = t.TempDir()
		seed := filepath.Join(root, metadata.SeedDir)
		if err := os.MkdirAll(seed, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(seed, "user-data"), readFile(t, n.Dir, "user-data"), 0o600); err != nil {
			t.Fatal(err)
		}
		doc, origin, err = metadata.Load(metadata.Sources{Root: root, Owner: os.Getuid()}, "")
		if err != nil || !strings.HasPrefix(origin, "nocloud-seed:") {
			t.Fatalf("%s: load from the seed directory: %v (origin %q)", n.Name, err, origin)
		}
		if !reflect.DeepEqual(doc, want) || doc.Node != n.Name || doc.Role != n.Role {
			t.Errorf("%s: document read from the seed directory differs", n.Name)
		}
	}
}

// kitDocs reads every node's role document back from the kit in dir.
func kitDocs(t *testing.T, dir string, spec *Spec) map[string]*metadata.Document {
	t.Helper()
	docs := map[string]*metadata.Document{}
	for _, n := range spec.nodes() {
		d, err := roleDocument(readFile(t, dir, "nodes", n.Name, "user-data"))
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		docs[n.Name] = d
	}
	return docs
}

// seedDocs checks the seeds of a run and returns their documents.
func seedDocs(t *testing.T, res *Result) map[string]*metadata.Document {
	t.Helper()
	docs := map[string]*metadata.Document{}
	for _, n := range res.Nodes {
		docs[n.Name] = checkSeed(t, n)
	}
	return docs
}

// snapshotTree maps every path under dir to its mode and contents.
func snapshotTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		var data []byte
		if !d.IsDir() {
			if data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		tree[p] = fi.Mode().String() + "\n" + string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// promote makes spec's first secondary the primary and the old primary its
// first secondary.
func promote(spec *Spec) Spec {
	s := *spec
	s.Primary = spec.Secondaries[0]
	s.Secondaries = append([]Node{spec.Primary}, spec.Secondaries[1:]...)
	return s
}

// A reuse run with an unchanged spec renders byte-identical seeds, so no node
// gets a new instance-id.
func TestReuseKeepsUnchangedNodes(t *testing.T) {
	spec := parseSpec(t, smallSpec)
	facts := mustResolve(t, "debian-12")
	out := filepath.Join(t.TempDir(), "kit")
	first, err := Generate(*spec, facts, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Generate(*spec, facts, out, Options{Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	if second.Generation != 2 {
		t.Errorf("kit generation %d, want 2", second.Generation)
	}
	for i, n := range second.Nodes {
		if n.Changed || n.Generation != 1 || n.InstanceID != first.Nodes[i].InstanceID {
			t.Errorf("%s: %+v, want unchanged", n.Name, n)
		}
	}
}

// Promoting a secondary keeps every secret; the promoted node's host key, which
// every document already listed, becomes the pinned one, and the old primary
// rejoins as a secondary with the keys it had.
func TestReusePromotesSecondary(t *testing.T) {
	spec := parseSpec(t, strings.Replace(clusterSpec, "%s", "debian-12", 1))
	out := filepath.Join(t.TempDir(), "kit")
	first, err := Generate(*spec, nil, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := kitDocs(t, out, spec)
	caCrt, caKey := readFile(t, out, "ca", "ca.crt"), readFile(t, out, "ca", "ca.key")

	promoted := promote(spec)
	res, err := Generate(promoted, nil, out, Options{Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.CAFingerprint != first.CAFingerprint || !bytes.Equal(caCrt, readFile(t, out, "ca", "ca.crt")) || !bytes.Equal(caKey, readFile(t, out, "ca", "ca.key")) {
		t.Error("the CA changed")
	}
	docs := seedDocs(t, res)
	checkDocuments(t, &promoted, res, docs, ssh.KeyAlgoED25519)
	checkModes(t, out, 5)
	for name, old := range before {
		d := docs[name]
		if d.SSH != old.SSH || d.TLS != old.TLS || d.ServerconfPassword != old.ServerconfPassword {
			t.Errorf("%s: keys, certificate or password changed", name)
		}
	}

	oldPrimary, newPrimary := spec.Primary.Name, promoted.Primary.Name
	if got, want := docs[oldPrimary].Primary.HostKey, before[oldPrimary].Secondaries[0].HostKey; got != want {
		t.Errorf("pinned primary host key %q, want %s's listed host key %q", got, newPrimary, want)
	}
	want := metadata.Member{Name: oldPrimary, Address: spec.Primary.Address,
		SSHPublicKey: before[oldPrimary].Primary.SSHPublicKey, HostKey: before[oldPrimary].Primary.HostKey}
	if got := docs[newPrimary].Secondaries[0]; got != want {
		t.Errorf("old primary listed as %+v, want %+v", got, want)
	}
}

// Only a node of the previous kit can become the primary; a refused run
// writes nothing.
func TestReuseRefusesUnknownPrimary(t *testing.T) {
	spec := parseSpec(t, smallSpec)
	facts := mustResolve(t, "debian-12")
	parent := t.TempDir()
	out := filepath.Join(parent, "kit")
	if _, err := Generate(*spec, facts, out, Options{}); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, parent)

	stranger := *spec
	stranger.Primary = Node{Name: "stranger", Address: "192.0.2.9"}
	stranger.Secondaries = []Node{spec.Primary, spec.Secondaries[0]}
	_, err := Generate(stranger, facts, out, Options{Reuse: true})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "primary.name" {
		t.Fatalf("got %v, want an error naming primary.name", err)
	}
	if !reflect.DeepEqual(before, snapshotTree(t, parent)) {
		t.Error("the refused run changed the output directory")
	}
}

// downgrade rewrites a kit's documents as a kit made before every node had
// both SSH keys: the primary without a user key, secondaries without a host
// key or the list of secondaries.
func downgrade(t *testing.T, dir string, spec *Spec) {
	t.Helper()
	for name, d := range kitDocs(t, dir, spec) {
		d.Primary.SSHPublicKey = ""
		if d.Role == metadata.RolePrimary {
			d.SSH.PrivateKey, d.SSH.PublicKey = "", ""
			for i := range d.Secondaries {
				d.Secondaries[i].HostKey = ""
			}
		} else {
			d.SSH.HostKey, d.Secondaries = "", nil
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("%s: downgraded document: %v", name, err)
		}
		doc, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ud, err := metadata.ToUserData(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "nodes", name, "user-data"), ud, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// An older kit keeps the keys it has and gets the missing ones. A node whose
// host key it lacks cannot become the primary until a run has given it one.
func TestReuseOlderKit(t *testing.T) {
	spec := parseSpec(t, smallSpec)
	facts := mustResolve(t, "debian-12")
	out := filepath.Join(t.TempDir(), "kit")
	if _, err := Generate(*spec, facts, out, Options{}); err != nil {
		t.Fatal(err)
	}
	downgrade(t, out, spec)
	old := kitDocs(t, out, spec)

	promoted := promote(spec)
	_, err := Generate(promoted, facts, out, Options{Reuse: true})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "primary.name" || !strings.Contains(err.Error(), "host key") {
		t.Fatalf("promoting a node without a host key: got %v", err)
	}

	res, err := Generate(*spec, facts, out, Options{Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	docs := seedDocs(t, res)
	checkDocuments(t, spec, res, docs, ssh.KeyAlgoED25519)
	primary, replica := spec.Primary.Name, spec.Secondaries[0].Name
	if docs[primary].SSH.HostKey != old[primary].SSH.HostKey || docs[replica].SSH.PrivateKey != old[replica].SSH.PrivateKey {
		t.Error("the older kit's keys were not kept")
	}

	res, err = Generate(promoted, facts, out, Options{Reuse: true})
	if err != nil {
		t.Fatalf("promoting once every node has a host key: %v", err)
	}
	if got := seedDocs(t, res)[primary].Primary.HostKey; got != docs[primary].Secondaries[0].HostKey {
		t.Errorf("pinned primary host key %q, want the one the previous kit listed for %s", got, replica)
	}
}

// manySecondaries lists n secondaries s1… at 10.0.1.1….
func manySecondaries(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {name: s%d, address: 10.0.1.%d}\n", i, i)
	}
	return b.String()
}
