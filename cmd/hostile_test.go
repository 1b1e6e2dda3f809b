// Package cmd_test runs both commands, as built binaries, on hostile input:
// every case must exit 2, name the file or the field, keep a planted secret
// out of its output, print no raw control characters and write nothing.
//
// The spec and image definition cases live in testdata/hostile/{spec,
// definition}/NNN-name.yaml, each with its expected text in expect.txt;
// `go test ./cmd -run TestHostileCorpus -update` regenerates them from the
// valid examples (test/demo/cluster.yaml, images/*.yaml). Role document and
// user-data cases are made at test time from a freshly generated kit, whose
// keys must not be committed.
package cmd_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"xroad-appliance/builder/kit"
	"xroad-appliance/provisioner/inputfile"
	"xroad-appliance/provisioner/metadata"
)

// secret is planted where a secret could land: in key position, in a
// password field, as a value of the wrong kind.
const secret = "S3cretHunter2xyz"

var update = flag.Bool("update", false, "rewrite testdata/hostile/{spec,definition} from the valid examples")

var bin struct{ image, node string }

var repoRoot, _ = filepath.Abs("..")

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "xroad-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.image, bin.node = filepath.Join(dir, "xroad-image"), filepath.Join(dir, "xroad-node")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, b := range []struct{ out, pkg string }{{bin.image, "./xroad-image"}, {bin.node, "./xroad-node"}} {
		cmd := exec.Command(goTool, "build", "-o", b.out, b.pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", b.pkg, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hostileCase is one bad input and what its error must say.
type hostileCase struct {
	name string
	// args are the command line; FILE stands for the input file, OUT for an
	// output directory that must not appear.
	args []string
	node bool // xroad-node rather than xroad-image
	// data is the input file's content; setup, when set, makes a special
	// file (FIFO, link, directory) at the path instead.
	data  []byte
	setup func(t *testing.T, path string)
	file  string // the input's name in its directory (default input.yaml)
	want  []string
	// secrets must not appear in the output.
	secrets []string
}

func run(t *testing.T, tc hostileCase) {
	t.Helper()
	dir := t.TempDir()
	name := tc.file
	if name == "" {
		name = "input.yaml"
	}
	path := filepath.Join(dir, name)
	switch {
	case tc.setup != nil:
		tc.setup(t, path)
	case tc.data != nil:
		if err := os.WriteFile(path, tc.data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	before := listing(t, dir)
	args := make([]string, len(tc.args))
	for i, a := range tc.args {
		a = strings.ReplaceAll(a, "FILE", path)
		a = strings.ReplaceAll(a, "REPO", repoRoot)
		args[i] = strings.ReplaceAll(a, "OUT", out)
	}
	exe := bin.image
	if tc.node {
		exe = bin.node
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "XROAD_IMAGE_CACHE=" + filepath.Join(dir, "cache")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v: timed out (blocked on the input?)", args)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	output := stdout.String() + stderr.String()
	if code != 2 {
		t.Errorf("exit %d, want 2; output:\n%s", code, output)
	}
	// The case's temporary directory is named after the case: a wanted
	// word must come from the message, not from the path.
	said := strings.ReplaceAll(output, dir, "DIR")
	for _, w := range tc.want {
		if !strings.Contains(said, w) {
			t.Errorf("output does not say %q:\n%s", w, output)
		}
	}
	for _, s := range append([]string{secret}, tc.secrets...) {
		if s != "" && strings.Contains(output, s) {
			t.Errorf("output holds a secret:\n%s", output)
		}
	}
	if i := strings.IndexFunc(output, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }); i >= 0 {
		t.Errorf("raw control character %q in output:\n%q", output[i], output)
	}
	if _, err := os.Lstat(out); err == nil {
		t.Errorf("output directory created")
	}
	if after := listing(t, dir); after != before {
		t.Errorf("files changed:\nbefore %s\nafter  %s", before, after)
	}
}

// listing names every entry under dir with its size.
func listing(t *testing.T, dir string) string {
	t.Helper()
	var names []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			names = append(names, fmt.Sprintf("%s:%d", p, fi.Size()))
		}
		return nil
	})
	sort.Strings(names)
	return strings.Join(names, " ")
}

func TestHostileCorpus(t *testing.T) {
	if *update {
		writeCorpus(t, "spec", specCases(t))
		writeCorpus(t, "definition", definitionCases(t))
	}
	var cases []hostileCase
	cases = append(cases, readCorpus(t, "spec", []string{"kit", "FILE", "--out", "OUT"}, false)...)
	cases = append(cases, readCorpus(t, "definition", []string{"build", "FILE", "--out", "OUT"}, false)...)
	cases = append(cases, fileCases()...)
	cases = append(cases, flagCases()...)
	docs := documentCases(t)
	cases = append(cases, docs...)
	cases = append(cases, joinDocumentCases(t)...)
	counts := map[string]int{}
	for _, tc := range cases {
		kind, _, _ := strings.Cut(tc.name, "/")
		counts[kind]++
	}
	t.Logf("%d cases: %v", len(cases), counts)
	if len(cases) < 250 {
		t.Errorf("only %d hostile cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			run(t, tc)
		})
	}
}

// corpus is a generated case before it is written to testdata.
type corpus struct {
	name string
	data []byte
	want string
}

func writeCorpus(t *testing.T, kind string, cs []corpus) {
	dir := filepath.Join("testdata", "hostile", kind)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var expect bytes.Buffer
	fmt.Fprintf(&expect, "# FILE<TAB>text the error must contain; written by go test ./cmd -run TestHostileCorpus -update\n")
	for i, c := range cs {
		file := fmt.Sprintf("%03d-%s.yaml", i+1, c.name)
		if err := os.WriteFile(filepath.Join(dir, file), c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&expect, "%s\t%s\n", file, c.want)
	}
	if err := os.WriteFile(filepath.Join(dir, "expect.txt"), expect.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readCorpus(t *testing.T, kind string, args []string, node bool) []hostileCase {
	dir := filepath.Join("testdata", "hostile", kind)
	f, err := os.Open(filepath.Join(dir, "expect.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []hostileCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		file, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s/expect.txt: bad line %q", dir, line)
		}
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, hostileCase{
			name: kind + "/" + strings.TrimSuffix(file, ".yaml"), args: args, node: node, data: data,
			want: []string{"input.yaml", want},
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no cases", dir)
	}
	return cases
}

func repoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var slugChars = regexp.MustCompile(`[^a-z0-9]+`)

func slug(path string) string {
	if path == "" {
		return "top"
	}
	return strings.Trim(slugChars.ReplaceAllString(strings.ToLower(path), "-"), "-")
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// walkMutations makes, from a valid YAML input, one case per mapping with
// the secret as an unknown key and one per value of the wrong kind (a list or
// a mapping for a scalar, the secret for a list or a mapping). Each wants the
// error to name the field path.
func walkMutations(t *testing.T, base []byte) []corpus {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(base, &doc); err != nil {
		t.Fatal(err)
	}
	var out []corpus
	emit := func(name, want string) {
		b, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, corpus{name, b, want})
	}
	scalar := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	// wrongKinds swaps *slot for values of other kinds, one at a time.
	wrongKinds := func(slot *yaml.Node, path string) {
		saved := *slot
		if slot.Kind == yaml.ScalarNode {
			*slot = yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{scalar(secret)}}
			emit("list-for-"+slug(path), path+": line")
			*slot = yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{scalar(secret), scalar("x")}}
			emit("mapping-for-"+slug(path), path+": line")
		} else {
			*slot = yaml.Node{Kind: yaml.ScalarNode, Value: secret, Style: yaml.DoubleQuotedStyle}
			emit("string-for-"+slug(path), path+": line")
		}
		*slot = saved
	}
	var visit func(n *yaml.Node, path string)
	visit = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			n.Content = append(n.Content, scalar(secret), scalar("x"))
			want := "unknown key under " + path
			if path == "" {
				want = "unknown key at the top level"
			}
			emit("unknown-key-under-"+slug(path), want)
			n.Content = n.Content[:len(n.Content)-2]
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := joinPath(path, n.Content[i].Value)
				wrongKinds(n.Content[i+1], p)
				visit(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				wrongKinds(c, p)
				visit(c, p)
			}
		}
	}
	visit(doc.Content[0], "")
	return out
}

// yamlCases are the YAML-level attacks every input gets, appended to or
// replacing the valid base.
func yamlCases(base []byte, firstKey string) []corpus {
	// An alias bomb: each level doubles the one before.
	bomb := "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 9; i++ {
		bomb += fmt.Sprintf("a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b := string(base)
	if !strings.HasPrefix(b, firstKey+":") && !strings.Contains(b, "\n"+firstKey+":") {
		panic("no top-level " + firstKey)
	}
	if strings.HasPrefix(b, firstKey+":") {
		b = "# starts with a comment\n" + b
	}
	return []corpus{
		{"second-document", []byte(b + "---\n" + b), "second YAML document"},
		{"empty-second-document", []byte(b + "---\n"), "second YAML document"},
		{"empty", []byte{}, "empty document"},
		{"only-comments", []byte("# nothing here\n"), "empty document"},
		{"null-document", []byte("~\n"), "must be a mapping, found nothing"},
		{"list-document", []byte("- " + secret + "\n"), "must be a mapping, found a list"},
		{"scalar-document", []byte(secret + "\n"), "must be a mapping, found a string"},
		{"unclosed-flow", []byte(b + secret + ": [\n"), "invalid YAML"},
		{"unclosed-quote", []byte(b + "x: \"" + secret + "\n"), "invalid YAML"},
		{"tab-indent", []byte(b + "x:\n\t" + secret + ": 1\n"), "invalid YAML"},
		{"bad-escape", []byte(b + "x: \"\\q" + secret + "\"\n"), "invalid YAML"},
		{"nul-byte", []byte(b + "# \x00" + secret + "\n"), "invalid YAML"},
		{"escape-sequence-key", []byte(b + "\"\\e[2J\\e]0;" + secret + "\\a\": 1\n"), "unknown key at the top level"},
		{"bom-then-key", []byte("\ufeff" + secret + ": 1\n" + b), "unknown key at the top level"},
		{"duplicate-key", []byte(b + firstKey + ": x\n"), firstKey + ": line"},
		{"anchor-alias", []byte(strings.Replace(b, "\n"+firstKey+":", "\n"+firstKey+": &a", 1) + "x: *a\n"), "anchors and aliases"},
		{"alias-bomb", []byte(bomb), "line"},
		{"custom-tag", []byte(strings.Replace(b, "\n"+firstKey+":", "\n"+firstKey+": !env", 1)), "custom YAML tags"},
		{"binary-tag", []byte(strings.Replace(b, "\n"+firstKey+":", "\n"+firstKey+": !!binary", 1)), "custom YAML tags"},
		{"non-string-key", []byte(b + "? [" + secret + "]\n: 1\n"), "keys must be plain strings"},
		{"integer-key", []byte(b + "12345: " + secret + "\n"), "keys must be plain strings"},
		{"deep-nesting", []byte(b + "x: " + strings.Repeat("[", 20000) + "\n"), "invalid YAML"},
		{"long-key", []byte(b + strings.Repeat(secret, 200) + ": 1\n"), "invalid YAML"},
		{"long-quoted-key", []byte(b + "? " + strings.Repeat(secret, 200) + "\n: 1\n"), "unknown key at the top level"},
		{"password-key-indented", []byte(b + "  " + secret + "\n"), "line"},
	}
}

func specCases(t *testing.T) []corpus {
	demo := repoFile(t, "test/demo/cluster.yaml")
	rich := string(demo) + "publicName: ss.example.org\noptions:\n  healthCheckPort: 5588\n  healthCheckInterface: 0.0.0.0\n  pooledConnections: false\njoin:\n  port: 5590\n  ttl: 24h\n  uses: 3\nadminUser:\n  name: xroad-admin\n"
	cs := "cluster: cs\nprofile: ubuntu-24.04\ncentralServer:\n  database:\n    primary: {name: db1, address: 10.0.0.21}\n    standbys:\n      - {name: db2, address: 10.0.0.22}\n    port: 5432\n    name: centerui\n  nodes:\n    - {name: cs1, address: 10.0.0.11, haNodeName: site_a}\n    - {name: cs2, address: 10.0.0.12}\n  admin: xrdadmin\n"
	var out []corpus
	out = append(out, walkMutations(t, []byte(rich))...)
	for _, c := range walkMutations(t, []byte(cs)) {
		if strings.HasPrefix(c.want, "unknown key") || strings.Contains(c.want, "centralServer") {
			c.name = "cs-" + c.name
			out = append(out, c)
		}
	}
	out = append(out, yamlCases(demo, "cluster")...)
	r := func(old, new string) []byte { return []byte(strings.Replace(rich, old, new, 1)) }
	out = append(out, []corpus{
		{"clear-text-password", []byte(rich + "  password: " + secret + "\n"), "adminUser.password"},
		{"password-hash-not-a-hash", []byte(rich + "  passwordHash: " + secret + "\n"), "adminUser.passwordHash"},
		{"password-hash-wrong-indent", []byte(rich + "passwordHash: " + secret + "\n"), "unknown key passwordHash at the top level"},
		{"password-as-key-under-admin", []byte(rich + "  " + secret + ":\n"), "unknown key under adminUser"},
		{"cluster-uppercase", r("cluster: demo", "cluster: DEMO"), "cluster"},
		{"cluster-escape", r("cluster: demo", `cluster: "demo\e[31m"`), "cluster"},
		{"cluster-newline", r("cluster: demo", `cluster: "demo\nx"`), "cluster"},
		{"cluster-empty", r("cluster: demo", `cluster: ""`), "cluster"},
		{"cluster-long", r("cluster: demo", "cluster: d"+strings.Repeat("e", 80)), "cluster"},
		{"profile-unknown", r("profile: ubuntu-24.04", "profile: windows-95"), "profile"},
		{"profile-path", r("profile: ubuntu-24.04", "profile: ../../../etc/passwd"), "profile"},
		{"profile-escape", r("profile: ubuntu-24.04", `profile: "\e]0;pwn\a"`), "profile"},
		{"name-injection", r("name: ss2", `name: 'ss2"; DROP ROLE x; --'`), "secondaries[0].name"},
		{"name-reserved", r("name: ss2", "name: postgres"), "secondaries[0].name"},
		{"name-duplicate", r("name: ss3", "name: ss2"), "secondaries[1].name"},
		{"address-duplicate", r("address: 10.77.0.13", "address: 10.77.0.12"), "secondaries[1].address"},
		{"address-newline", r("address: 10.77.0.11", `address: "10.77.0.11\nHost *"`), "primary.address"},
		{"address-bad-ip", r("address: 10.77.0.11", "address: 10.77.0.300"), "primary.address"},
		{"address-unspecified", r("address: 10.77.0.11", "address: 0.0.0.0"), "primary.address"},
		{"address-zone", r("address: 10.77.0.11", "address: 'fe80::1%eth0'"), "primary.address"},
		{"address-ipv6", r("address: 10.77.0.11", "address: 'fd00::11'"), "primary.address"},
		{"address-ipv6-mapped", r("address: 10.77.0.11", "address: '::ffff:10.77.0.11'"), "primary.address"},
		{"address-loopback", r("address: 10.77.0.11", "address: 127.0.0.1"), "primary.address"},
		{"address-localhost", r("address: 10.77.0.11", "address: localhost"), "primary.address"},
		{"address-broadcast", r("address: 10.77.0.11", "address: 255.255.255.255"), "primary.address"},
		{"address-multicast", r("address: 10.77.0.11", "address: 239.1.1.1"), "primary.address"},
		{"no-secondaries", []byte(strings.Replace(strings.Replace(rich, "secondaries:\n  - {name: ss2, address: 10.77.0.12}\n  - {name: ss3, address: 10.77.0.13}\n", "secondaries: []\n", 1), "join:\n  port: 5590\n  ttl: 24h\n  uses: 3\n", "", 1)), "secondaries"},
		{"port-zero", r("healthCheckPort: 5588", "healthCheckPort: 0"), "options.healthCheckPort"},
		{"port-too-large", r("healthCheckPort: 5588", "healthCheckPort: 70000"), "options.healthCheckPort"},
		{"port-overflow", r("healthCheckPort: 5588", "healthCheckPort: 99999999999999999999"), "options.healthCheckPort"},
		{"port-float", r("healthCheckPort: 5588", "healthCheckPort: 5588.5"), "options.healthCheckPort"},
		{"interface-name", r("healthCheckInterface: 0.0.0.0", "healthCheckInterface: 'eth0; rm -rf /'"), "options.healthCheckInterface"},
		{"pooled-yes", r("pooledConnections: false", "pooledConnections: yes"), "options.pooledConnections"},
		{"public-name-space", r("publicName: ss.example.org", "publicName: 'ss example'"), "publicName"},
		{"join-port-reserved", r("port: 5590", "port: 5433"), "join.port"},
		{"join-port-health-check", r("port: 5590", "port: 5588"), "join.port"},
		{"join-ttl-garbage", r("ttl: 24h", "ttl: "+secret), "join.ttl"},
		{"join-ttl-negative", r("ttl: 24h", "ttl: -1h"), "join.ttl"},
		{"join-uses-negative", r("uses: 3", "uses: -1"), "join.uses"},
		{"join-token-in-spec", r("uses: 3", "uses: 3\n  token: abcdef.0123456789abcdef"), "unknown key under join"},
		{"cs-join", []byte(cs + "join: {}\n"), "join"},
		{"admin-reserved", r("name: xroad-admin", "name: postgres"), "adminUser.name"},
		{"both-kinds", []byte(cs + "primary: {name: p, address: 10.0.0.1}\n"), "primary"},
		{"cs-database-on-rhel-7", []byte(strings.Replace(cs, "profile: ubuntu-24.04", "profile: rhel-7", 1)), "profile"},
		{"cs-port-zero", []byte(strings.Replace(cs, "port: 5432", "port: 0", 1)), "centralServer.database.port"},
		{"cs-duplicate-ha-name", []byte(strings.Replace(cs, "{name: cs2, address: 10.0.0.12}", "{name: cs2, address: 10.0.0.12, haNodeName: site_a}", 1)), "centralServer.nodes[1].haNodeName"},
	}...)
	return out
}

func definitionCases(t *testing.T) []corpus {
	ss := repoFile(t, "images/securityserver.yaml")
	var out []corpus
	out = append(out, walkMutations(t, ss)...)
	for _, img := range []string{"centralserver", "cs-database"} {
		for _, c := range walkMutations(t, repoFile(t, "images/"+img+".yaml")) {
			if strings.HasPrefix(c.want, "unknown key") {
				c.name = img + "-" + c.name
				out = append(out, c)
			}
		}
	}
	out = append(out, yamlCases(ss, "name")...)
	r := func(old, new string) []byte {
		if !bytes.Contains(ss, []byte(old)) {
			t.Fatalf("images/securityserver.yaml has no %q", old)
		}
		return bytes.Replace(ss, []byte(old), []byte(new), 1)
	}
	out = append(out, []corpus{
		{"name-uppercase", r("name: xroad-securityserver", "name: Xroad Security"), "key name"},
		{"name-escape", r("name: xroad-securityserver", `name: "x\e[2J"`), "key name"},
		{"profile-unknown", r("profile: ubuntu-24.04", "profile: debian-13"), "key profile"},
		{"profile-path", r("profile: ubuntu-24.04", "profile: ../../../etc/passwd"), "key profile"},
		{"postgresql-unknown", r("profile: ubuntu-24.04", "profile: ubuntu-24.04\npostgresql: '9.6'"), "key postgresql"},
		{"variant", r("variant: vanilla", "variant: finnish"), "key xroad.variant"},
		{"version-injection", r("version: 7.8.0", "version: '7.8.0; rm -rf /'"), "key xroad.version"},
		{"package-set-unknown", r("  - securityserver-secondary", "  - securityserver-tertiary"), "key xroad.packageSets[1]"},
		{"extra-package-option", r("extraPackages: []", `extraPackages: ["-oops"]`), "key extraPackages[0]"},
		{"unit-path", r("  - systemd-networkd.service", "  - ../evil"), "key units.enable[0]"},
		{"output-unknown", r("- rootfs-tar", "- rootfs-zip"), "key outputs[2]"},
		{"output-twice", r("- rootfs-tar", "- oci-layout"), "key outputs[2]"},
		{"registry-missing", r("- rootfs-tar", "- registry"), "key registry"},
		{"disk-negative", r("sizeMiB: 0", "sizeMiB: -1"), "key disk.sizeMiB"},
		{"disk-overflow", r("sizeMiB: 0", "sizeMiB: 99999999999999999999"), "key disk.sizeMiB"},
		{"kernel-arg-blank", r("kernelArgs: []", `kernelArgs: ["console=ttyS0 quiet"]`), "key disk.kernelArgs[0]"},
		{"two-bases", r("  bootstrap: true", "  bootstrap: true\n  image: debian:12"), "key base"},
		{"layout-missing", r("  bootstrap: true", "  ociLayout: /nonexistent/layout"), "key base.ociLayout"},
		{"rootfs-missing", r("  bootstrap: true", "  rootfs: /nonexistent/rootfs"), "key base.rootfs"},
		{"removal-relative", r("  remove: []", "  remove: [etc/xroad/x.key]"), "key install.remove[0]"},
		{"epoch-string", r("sourceDateEpoch: 1704067200", "sourceDateEpoch: soon"), "key sourceDateEpoch"},
		{"epoch-missing", r("sourceDateEpoch: 1704067200", ""), "key sourceDateEpoch"},
		{"bootstrap-string", r("  bootstrap: true", "  bootstrap: 'yes'"), "key base.bootstrap"},
	}...)
	return out
}

// fileCases are inputs that are not regular files, or too large, for every
// command that takes a file.
func fileCases() []hostileCase {
	commands := []struct {
		kind string
		args []string
		node bool
	}{
		{"spec", []string{"kit", "FILE", "--out", "OUT"}, false},
		{"definition", []string{"build", "FILE", "--out", "OUT"}, false},
		{"document", []string{"validate", "FILE"}, true},
		{"plan", []string{"plan", "FILE", "--profile", "ubuntu-24.04"}, true},
		{"reseed", []string{"reseed", "FILE"}, true},
		{"ca-key", []string{"join-token", "--ca-key", "FILE", "--out", "OUT/join.yaml"}, true},
	}
	mkfifo := func(t *testing.T, p string) {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target string) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	mkdir := func(t *testing.T, p string) {
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	huge := append([]byte("# "), bytes.Repeat([]byte("x"), inputfile.MaxSize)...)
	var out []hostileCase
	for _, c := range commands {
		for _, f := range []struct {
			name  string
			setup func(*testing.T, string)
			data  []byte
			file  string
			want  string
		}{
			{"fifo", mkfifo, nil, "", "not a regular file (a FIFO)"},
			{"dev-zero", link("/dev/zero"), nil, "", "not a regular file (a character device)"},
			{"dev-urandom", link("/dev/urandom"), nil, "", "not a regular file (a character device)"},
			{"directory", mkdir, nil, "", "not a regular file (a directory)"},
			{"missing", nil, nil, "", "no such file or directory"},
			{"dangling-link", link("/nonexistent/x.yaml"), nil, "", "no such file or directory"},
			{"oversized", nil, huge, "", fmt.Sprintf("larger than %d bytes", inputfile.MaxSize)},
			{"escape-in-name", nil, nil, "in\x1b[2Jput.yaml", `in\x1b[2Jput.yaml`},
		} {
			want := []string{f.want}
			if f.file == "" {
				want = append(want, "input.yaml")
			}
			out = append(out, hostileCase{name: "file/" + c.kind + "-" + f.name, args: c.args, node: c.node,
				setup: f.setup, data: f.data, file: f.file, want: want})
		}
	}
	return out
}

// flagCases are bad command lines and profile names.
func flagCases() []hostileCase {
	type fc struct {
		name string
		node bool
		args []string
		want string
	}
	cases := []fc{
		{"kit-profile-unknown", false, []string{"kit", "REPO/test/demo/cluster.yaml", "--profile", "windows-95", "--out", "OUT"}, `"windows-95"`},
		{"kit-profile-path", false, []string{"kit", "REPO/test/demo/cluster.yaml", "--profile", "../../etc/passwd", "--out", "OUT"}, `"../../etc/passwd"`},
		{"kit-profile-escape", false, []string{"kit", "REPO/test/demo/cluster.yaml", "--profile", "\x1b]0;pwn\a", "--out", "OUT"}, `\x1b]0;pwn\a`},
		{"kit-profile-empty-pg", false, []string{"kit", "REPO/test/demo/cluster.yaml", "--profile", "ubuntu-24.04", "--postgresql", "9.6", "--out", "OUT"}, "9.6"},
		{"kit-no-out", false, []string{"kit", "REPO/test/demo/cluster.yaml"}, "--out"},
		{"kit-two-specs", false, []string{"kit", "a.yaml", "b.yaml", "--out", "OUT"}, "expected a cluster spec file"},
		{"kit-unknown-flag", false, []string{"kit", "--bogus", "REPO/test/demo/cluster.yaml", "--out", "OUT"}, "bogus"},
		{"kit-bad-bool", false, []string{"kit", "--force=maybe", "REPO/test/demo/cluster.yaml", "--out", "OUT"}, "force"},
		{"build-profile-unknown", false, []string{"build", "REPO/images/securityserver.yaml", "--profile", "debian-13", "--out", "OUT"}, "--profile"},
		{"build-profile-escape", false, []string{"build", "REPO/images/securityserver.yaml", "--profile", "\x1b[2J", "--out", "OUT"}, `\x1b[2J`},
		{"build-postgresql", false, []string{"build", "REPO/images/securityserver.yaml", "--postgresql", "9.6", "--out", "OUT"}, "--postgresql"},
		{"build-output", false, []string{"build", "REPO/images/securityserver.yaml", "--output", "oci-layout,floppy", "--out", "OUT"}, "--output"},
		{"build-base", false, []string{"build", "REPO/images/securityserver.yaml", "--base", "ftp:x", "--out", "OUT"}, "--base"},
		{"build-epoch", false, []string{"build", "REPO/images/securityserver.yaml", "--source-date-epoch", "-5", "--out", "OUT"}, "--source-date-epoch"},
		{"build-keyring-alone", false, []string{"build", "REPO/images/securityserver.yaml", "--repo-keyring", "/x.gpg", "--out", "OUT"}, "--repo-keyring"},
		{"build-version", false, []string{"build", "REPO/images/securityserver.yaml", "--xroad-version", "1.0;reboot", "--out", "OUT"}, "--xroad-version"},
		{"build-no-out", false, []string{"build", "REPO/images/securityserver.yaml"}, "--out"},
		{"render-profile-unknown", false, []string{"render", "--profile", "windows-95", "--out", "OUT"}, `"windows-95"`},
		{"render-no-out", false, []string{"render", "--profile", "ubuntu-24.04"}, "--out"},
		{"image-unknown-command", false, []string{"bake"}, `"bake"`},
		{"node-validate-no-file", true, []string{"validate"}, "expected one metadata file"},
		{"node-validate-two-files", true, []string{"validate", "a", "b"}, "expected one metadata file"},
		{"node-plan-profile-unknown", true, []string{"plan", "REPO/test/demo/cluster.yaml", "--profile", "windows-95"}, "cluster.yaml"},
		{"node-unknown-command", true, []string{"provison"}, `"provison"`},
		{"node-unknown-flag", true, []string{"validate", "--bogus", "x"}, "bogus"},
		{"node-join-token-no-out", true, []string{"join-token"}, "--out"},
		{"node-join-token-ttl", true, []string{"join-token", "--ttl", "-1h", "--out", "OUT/join.yaml"}, "--ttl"},
		{"node-join-token-ttl-text", true, []string{"join-token", "--ttl", "a day", "--out", "OUT/join.yaml"}, "ttl"},
		{"node-join-token-uses", true, []string{"join-token", "--uses", "-2", "--out", "OUT/join.yaml"}, "--uses"},
		{"node-join-token-out-exists", true, []string{"join-token", "--out", "REPO/test/demo/cluster.yaml"}, "exists"},
		{"node-forget-no-name", true, []string{"forget"}, "name of the secondary"},
		{"node-forget-two-names", true, []string{"forget", "ss2", "ss3"}, "name of the secondary"},
	}
	var out []hostileCase
	for _, c := range cases {
		out = append(out, hostileCase{name: "flags/" + c.name, node: c.node, args: c.args, want: []string{c.want}})
	}
	return out
}

// documentCases make a kit for the demo cluster and turn one node's role
// document and user-data into hostile inputs for `xroad-node validate`.
func documentCases(t *testing.T) []hostileCase {
	spec, err := kit.ParseSpec(repoFile(t, "test/demo/cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kitDir := filepath.Join(t.TempDir(), "kit")
	if _, err := kit.Generate(*spec, nil, kitDir, kit.Options{}); err != nil {
		t.Fatal(err)
	}
	userData, err := os.ReadFile(filepath.Join(kitDir, "nodes", "ss2", "user-data"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := metadata.FromUserData(userData)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := metadata.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{parsed.ServerconfPassword, keyBody(parsed.TLS.Key), keyBody(parsed.SSH.PrivateKey)}

	var out []hostileCase
	add := func(kind string, c corpus, data []byte) {
		out = append(out, hostileCase{name: kind + "/" + c.name, node: true, args: []string{"validate", "FILE"},
			data: data, want: []string{"input.yaml", c.want}, secrets: secrets})
	}
	wrap := func(d []byte) []byte {
		return []byte("#cloud-config\nwrite_files:\n- path: " + metadata.RoleFile + "\n  owner: root:root\n  permissions: '0600'\n  encoding: b64\n  content: " +
			base64.StdEncoding.EncodeToString(d) + "\n")
	}
	docCases := append(walkMutations(t, doc), yamlCases(doc, "version")...)
	docCases = append(docCases, []corpus{
		{"too-large", append(append([]byte(nil), doc...), []byte("# "+strings.Repeat("x", metadata.MaxSize))...), fmt.Sprintf("larger than %d bytes", metadata.MaxSize)},
		{"password-as-key", append(append([]byte(nil), doc...), []byte(parsed.ServerconfPassword+": x\n")...), "unknown key at the top level"},
	}...)
	for i, c := range docCases {
		add("document", c, c.data)
		if i%2 == 0 {
			add("userdata", c, wrap(c.data))
		}
	}
	ud := string(wrap(doc))
	for _, c := range []corpus{
		{"permissions-world", []byte(strings.Replace(ud, "permissions: '0600'", "permissions: '0644'", 1)), "permissions"},
		{"permissions-missing", []byte(strings.Replace(ud, "permissions: '0600'", "", 1)), "permissions: missing"},
		{"permissions-symbolic", []byte(strings.Replace(ud, "permissions: '0600'", "permissions: rw-------", 1)), "not an octal mode"},
		{"owner", []byte(strings.Replace(ud, "owner: root:root", "owner: xroad:xroad", 1)), "owner"},
		{"second-document", []byte(ud + "---\n#cloud-config\nwrite_files: []\n"), "second YAML document"},
		{"second-role-entry", []byte(ud + "- path: " + metadata.RoleFile + "\n  content: x\n"), "more than one entry"},
		{"oversized", append([]byte(ud), bytes.Repeat([]byte("# padding\n"), inputfile.MaxSize/10)...), "larger than"},
		{"no-role-entry", []byte("#cloud-config\nhostname: x\n"), "no role document"},
		{"write-files-string", []byte("#cloud-config\nwrite_files: " + secret + "\n"), "not valid #cloud-config"},
		{"broken-yaml", []byte("#cloud-config\nwrite_files: [\n  " + secret + "\n"), "not valid #cloud-config"},
		{"bad-base64", []byte(strings.Replace(ud, "encoding: b64", "encoding: b64\n  x: y", 1) + "      ==AA\n"), "input.yaml"},
		{"unknown-encoding", []byte(strings.Replace(ud, "encoding: b64", "encoding: base32", 1)), "encoding"},
		{"gzip-garbage", []byte(strings.Replace(ud, "encoding: b64", "encoding: gz+b64", 1)), "not gzip data"},
		{"not-cloud-config", []byte("#!/bin/sh\n" + ud), "input.yaml"},
	} {
		add("userdata", c, c.data)
	}
	return out
}

// joinDocumentCases make a kit with a join section for the demo cluster and
// turn its one join document into hostile inputs for `xroad-node validate`;
// the token's secret must never be printed.
func joinDocumentCases(t *testing.T) []hostileCase {
	spec, err := kit.ParseSpec(repoFile(t, "test/demo/cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	spec.Join = kit.DefaultJoin()
	kitDir := filepath.Join(t.TempDir(), "kit")
	res, err := kit.Generate(*spec, nil, kitDir, kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	userData, err := os.ReadFile(res.Join.UserData)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := metadata.FromUserData(userData)
	if err != nil {
		t.Fatal(err)
	}
	_, seed, err := metadata.ParseSeed(doc)
	if err != nil || seed == nil {
		t.Fatalf("join document: %v", err)
	}
	tok, err := seed.Join.ParseToken()
	if err != nil {
		t.Fatal(err)
	}
	var out []hostileCase
	for _, c := range append(walkMutations(t, doc), yamlCases(doc, "version")...) {
		out = append(out, hostileCase{name: "join/" + c.name, node: true, args: []string{"validate", "FILE"},
			data: c.data, want: []string{"input.yaml", c.want}, secrets: []string{tok.Secret}})
	}
	return out
}

// keyBody is a piece of a PEM key's base64 body that must never be printed.
func keyBody(pem string) string {
	lines := strings.Split(pem, "\n")
	if len(lines) < 3 {
		return ""
	}
	return lines[1]
}
