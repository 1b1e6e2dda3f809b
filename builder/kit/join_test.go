package kit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"xroad-appliance/builder/secretscan"
	"xroad-appliance/provisioner/jointoken"
	"xroad-appliance/provisioner/metadata"
)

const joinSpec = `cluster: lab
primary: {name: primary, address: 192.0.2.1}
join:
  uses: 4
`

// joinSeed reads join/user-data as a node does and returns its join document.
func joinSeed(t *testing.T, res *Result) *metadata.JoinDocument {
	t.Helper()
	if res.Join == nil || res.Join.UserData != filepath.Join(res.Dir, "join", "user-data") {
		t.Fatalf("join result %+v", res.Join)
	}
	raw, err := metadata.FromUserData(readFile(t, res.Join.UserData))
	if err != nil {
		t.Fatal(err)
	}
	doc, jd, err := metadata.ParseSeed(raw)
	if err != nil || doc != nil {
		t.Fatalf("join/user-data: %v %v", doc, err)
	}
	return jd
}

func TestGenerateJoin(t *testing.T) {
	spec := parseSpec(t, joinSpec)
	if spec.Join.Port != metadata.DefaultJoinPort || spec.Join.TTL != "24h" || spec.Join.Uses != 4 {
		t.Fatalf("join defaults: %+v", spec.Join)
	}
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	out := filepath.Join(t.TempDir(), "kit")
	res, err := Generate(*spec, mustResolve(t, "debian-12"), out, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Nodes) != 1 || res.Join.Expires != now.Add(24*time.Hour) || len(res.Join.TokenID) != 6 {
		t.Fatalf("result %+v, join %+v", res.Nodes, res.Join)
	}
	checkModes(t, out, 5)
	ca := checkCA(t, out, spec.Cluster)

	jd := joinSeed(t, res)
	tok, err := jd.Join.ParseToken()
	if err != nil {
		t.Fatal(err)
	}
	want := metadata.JoinTarget{Primary: "192.0.2.1", Port: metadata.DefaultJoinPort, Token: tok.Value(), CAPin: jointoken.Pin(ca)}
	if jd.Cluster != "lab" || jd.Role != metadata.RoleSecondary || jd.Join != want || tok.ID != res.Join.TokenID {
		t.Errorf("join document %v, want %v", jd, want)
	}

	primary := checkSeed(t, res.Nodes[0])
	j := primary.Join
	if j == nil || j.Port != metadata.DefaultJoinPort || j.CAKey != string(readFile(t, out, "ca", "ca.key")) ||
		len(j.Tokens) != 1 || j.Tokens[0].Token != tok.Value() || !j.Tokens[0].Expires.Equal(res.Join.Expires) || j.Tokens[0].Uses != 4 {
		t.Errorf("primary's join section %v", j)
	}
	if len(primary.Secondaries) != 0 {
		t.Errorf("secondaries %v", primary.Secondaries)
	}
	checkEchoJoin(t, out, spec)
}

// TestJoinUserDataHoldsNoOtherSecret: join/user-data goes to every joining
// secondary, and so to whoever can read a cloud's instance metadata; the
// token is all it may carry.
func TestJoinUserDataHoldsNoOtherSecret(t *testing.T) {
	spec := parseSpec(t, strings.Replace(clusterSpec, "%s", "rhel-8", 1)+"join: {ttl: 90m}\n")
	out := filepath.Join(t.TempDir(), "kit")
	res, err := Generate(*spec, nil, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(res.Join.Expires); d < 89*time.Minute || d > 90*time.Minute {
		t.Errorf("token valid for %v, want 90m", d)
	}
	findings, err := secretscan.Scan(context.Background(), filepath.Join(out, "join"), secretscan.Options{})
	if err != nil || len(findings) != 0 {
		t.Errorf("secret scan of join/: %v %v", findings, err)
	}
	// The scan finds what a node's user-data holds.
	if findings, err := secretscan.Scan(context.Background(), res.Nodes[1].Dir, secretscan.Options{}); err != nil || len(findings) == 0 {
		t.Errorf("secret scan of a node's seed found nothing: %v", err)
	}

	ud := string(readFile(t, res.Join.UserData))
	docs := seedDocs(t, res)
	checkDocuments(t, spec, res, docs, ssh.KeyAlgoECDSA256)
	secrets := []string{"PRIVATE KEY", docs["ss-primary"].ServerconfPassword, keyLine(string(readFile(t, out, "ca", "ca.key")))}
	if res.AdminPassword != "" {
		secrets = append(secrets, res.AdminPassword)
	}
	for name, d := range docs {
		secrets = append(secrets, keyLine(d.TLS.Key), keyLine(d.SSH.PrivateKey), keyLine(d.SSH.HostKey))
		if d.Role != metadata.RolePrimary && d.Join != nil {
			t.Errorf("%s: a secondary with a join section", name)
		}
	}
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an empty secret to look for")
		}
		if strings.Contains(ud, s) {
			t.Errorf("join/user-data holds %.12s…", s)
		}
	}
	if jd := joinSeed(t, res); jd.Join.Primary != "10.20.0.10" {
		t.Errorf("join document points at %s", jd.Join.Primary)
	}
}

// keyLine is one line of a PEM key's base64 body.
func keyLine(pem string) string {
	lines := strings.Split(pem, "\n")
	if len(lines) < 3 {
		return ""
	}
	return lines[2]
}

// TestReuseMintsNewToken: every run makes a new token; the primary's
// document carries only that one, the secondaries' seeds stay as they were.
func TestReuseMintsNewToken(t *testing.T) {
	spec := parseSpec(t, smallSpec+"join: {}\n")
	facts := mustResolve(t, "debian-12")
	out := filepath.Join(t.TempDir(), "kit")
	first, err := Generate(*spec, facts, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	firstUD := readFile(t, first.Join.UserData)
	later := time.Now().Add(time.Hour)
	second, err := Generate(*spec, facts, out, Options{Reuse: true, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	if second.Join.TokenID == first.Join.TokenID || !second.Join.Expires.After(first.Join.Expires) {
		t.Errorf("token %s until %v, then %s until %v", first.Join.TokenID, first.Join.Expires, second.Join.TokenID, second.Join.Expires)
	}
	if string(readFile(t, second.Join.UserData)) == string(firstUD) {
		t.Error("join/user-data not rewritten")
	}
	docs := seedDocs(t, second)
	if tokens := docs["primary"].Join.Tokens; len(tokens) != 1 || !strings.HasPrefix(tokens[0].Token, second.Join.TokenID+".") {
		t.Errorf("primary's tokens %v", tokens)
	}
	for _, n := range second.Nodes {
		if n.Changed != (n.Role == metadata.RolePrimary) {
			t.Errorf("%s changed: %v", n.Name, n.Changed)
		}
	}

	// Without the section the next run drops it everywhere.
	spec.Join = nil
	third, err := Generate(*spec, facts, out, Options{Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	if third.Join != nil || seedDocs(t, third)["primary"].Join != nil {
		t.Error("join kept")
	}
	if _, err := os.Stat(filepath.Join(out, "join")); !os.IsNotExist(err) {
		t.Errorf("join/ left in the kit: %v", err)
	}
}

func TestJoinSpecRejected(t *testing.T) {
	const ok = "cluster: c\nprimary: {name: p, address: 10.0.0.1}\n"
	const cs = "cluster: cs\ncentralServer:\n  database:\n    primary: {name: db1, address: 10.0.0.21}\n  nodes:\n    - {name: cs1, address: 10.0.0.11}\n"
	for _, tc := range []struct{ name, spec, want string }{
		{"on a central-server spec", cs + "join: {}\n", "key join: not allowed with centralServer"},
		{"port reserved", ok + "join: {port: 5432}\n", "key join.port: port 5432 is used by"},
		{"port zero", ok + "join: {port: 0}\n", "key join.port: must be 1-65535"},
		{"port too large", ok + "join: {port: 65536}\n", "key join.port: must be 1-65535"},
		{"port of the health check", ok + "join: {port: 5588}\n", "key join.port: 5588 is options.healthCheckPort"},
		{"port a string", ok + "join: {port: S3cretHunter2}\n", "join.port: line 3: must be an integer"},
		{"ttl garbage", ok + "join: {ttl: S3cretHunter2}\n", "key join.ttl: must be a positive duration"},
		{"ttl without a unit", ok + "join: {ttl: 24}\n", "key join.ttl: must be a positive duration"},
		{"ttl negative", ok + "join: {ttl: -1h}\n", "key join.ttl: must be a positive duration"},
		{"ttl zero", ok + "join: {ttl: 0s}\n", "key join.ttl: must be a positive duration"},
		{"uses negative", ok + "join: {uses: -1}\n", "key join.uses: must be 0"},
		{"join a string", ok + "join: S3cretHunter2\n", "join: line 3: must be a mapping"},
		{"unknown key", ok + "join:\n  S3cretHunter2: 1\n", "line 4: unknown key under join"},
		{"token in the spec", ok + "join:\n  token: abcdef.0123456789abcdef\n", "line 4: unknown key under join"},
		{"null join and no secondaries", ok + "join: ~\n", "key secondaries: missing; a cluster needs at least one secondary, or a join section"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tc.spec))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
			if strings.Contains(err.Error(), "S3cret") || strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("error quotes the spec: %v", err)
			}
		})
	}
	// A spec built in Go sets the section whole.
	s := parseSpec(t, ok+"join: {}\n")
	s.Join = &JoinSpec{Port: 5590}
	if _, err := Generate(*s, nil, filepath.Join(t.TempDir(), "kit"), Options{}); err == nil || !strings.Contains(err.Error(), "join.ttl") {
		t.Errorf("Generate: %v", err)
	}
}

// checkEchoJoin: cluster.yaml keeps the join section, defaults spelt out.
func checkEchoJoin(t *testing.T, out string, spec *Spec) {
	t.Helper()
	echo := readFile(t, out, "cluster.yaml")
	if !strings.Contains(string(echo), "join:\n  port: 5590\n  ttl: 24h\n  uses: 4\n") {
		t.Errorf("cluster.yaml:\n%s", echo)
	}
	back, err := ParseSpec(echo)
	if err != nil || *back.Join != *spec.Join {
		t.Errorf("cluster.yaml reads back as %+v: %v", back.Join, err)
	}
}
