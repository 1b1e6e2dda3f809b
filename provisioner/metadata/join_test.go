package metadata

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

func marshalJoin(t testing.TB, j *JoinDocument) string {
	t.Helper()
	b, err := j.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJoinSectionValid(t *testing.T) {
	for name, edit := range map[string]func(*Document){
		"as made":            func(*Document) {},
		"with secondaries":   func(d *Document) { d.Secondaries = primaryDoc(t).Secondaries },
		"no tokens yet":      func(d *Document) { d.Join.Tokens = nil },
		"an expired token":   func(d *Document) { d.Join.Tokens[0].Expires = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) },
		"any number of uses": func(d *Document) { d.Join.Tokens[0].Uses = 0 },
		"several tokens": func(d *Document) {
			d.Join.Tokens = append(d.Join.Tokens, JoinToken{Token: "zz0000.0000000000000000", Expires: testExpiry})
		},
		"another port":             func(d *Document) { d.Join.Port = 9443 },
		"health check on the port": func(d *Document) { d.Options.HealthCheckPort = 5590; d.Join.Port = 5591 },
	} {
		t.Run(name, func(t *testing.T) {
			d := joinPrimaryDoc(t)
			edit(d)
			got, err := Parse([]byte(marshal(t, d)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, d) {
				t.Errorf("round trip changed the document:\n got %v\nwant %v", got.Join, d.Join)
			}
			doc, join, err := ParseSeed([]byte(marshal(t, d)))
			if err != nil || join != nil || !reflect.DeepEqual(doc, d) {
				t.Errorf("ParseSeed: %v, %v", join, err)
			}
		})
	}
}

func TestJoinSectionDefaults(t *testing.T) {
	text := marshal(t, joinPrimaryDoc(t))
	text = strings.Replace(text, "  port: 5590\n", "", 1)
	text = strings.Replace(text, "  tokens:\n", "  tokens: []\n  xtokens:\n", 1)
	text = text[:strings.Index(text, "  xtokens:\n")] // drop the token list
	d, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if d.Join.Port != DefaultJoinPort || d.Join.Tokens != nil {
		t.Errorf("join = %v", d.Join)
	}
	// An offset time reads as the same instant in UTC.
	text = strings.Replace(marshal(t, joinPrimaryDoc(t)), "2031-12-06T08:00:00Z", "'2031-12-06T10:00:00+02:00'", 1)
	if d, err = Parse([]byte(text)); err != nil || !d.Join.Tokens[0].Expires.Equal(testExpiry) || d.Join.Tokens[0].Expires.Location() != time.UTC {
		t.Errorf("expires = %v, %v", d.Join.Tokens[0].Expires, err)
	}
}

func TestJoinOnlyOnSecurityServerPrimary(t *testing.T) {
	d := csDoc(t, RoleCSDBPrimary, "db1")
	d.Join = joinPrimaryDoc(t).Join
	expectFieldError(t, d, "key join: only on the primary")
	// A primary that another node follows now drops the section with its role.
	p := joinPrimaryDoc(t)
	if got := p.WithTopology(&Topology{Role: RoleSecondary, Primary: p.Primary}); got.Join != nil || p.Join == nil {
		t.Errorf("join after the role changed: %v", got.Join)
	}
}

func TestParseSeedJoinDocument(t *testing.T) {
	want := joinDoc(t)
	text := marshalJoin(t, want)
	doc, join, err := ParseSeed([]byte(text))
	if err != nil || doc != nil {
		t.Fatalf("%v, %v", doc, err)
	}
	if !reflect.DeepEqual(join, want) {
		t.Errorf("round trip: %v, want %v", join, want)
	}
	tok, err := join.Join.ParseToken()
	if err != nil || tok.Value() != testToken {
		t.Errorf("token: %v", err)
	}
	// The port defaults; comments and key order are free.
	hand := "# join ss-cluster\njoin:\n  caPin: " + want.Join.CAPin + "\n  token: " + testToken + "\n  primary: ss1.example.org\n" +
		"role: secondary\ncluster: ss-cluster\nversion: " + Version + "\n"
	if _, join, err = ParseSeed([]byte(hand)); err != nil || join.Join.Port != DefaultJoinPort || join.Join.Primary != "ss1.example.org" {
		t.Errorf("hand-written: %v, %v", join, err)
	}
	// Parse and Load read role documents only and say what this is.
	if _, err := Parse([]byte(text)); !errors.Is(err, ErrJoinDocument) {
		t.Errorf("Parse: %v", err)
	}
}

func TestParseSeedJoinRejects(t *testing.T) {
	m := material(t)
	for _, tc := range []struct {
		name  string
		edit  func(*JoinDocument)
		text  func(string) string
		field string
	}{
		{name: "missing version", edit: func(j *JoinDocument) { j.Version = "" }, field: "key version: required"},
		{name: "other version", edit: func(j *JoinDocument) { j.Version = "xroad-appliance/v2" }, field: "key version: unsupported"},
		{name: "bad cluster", edit: func(j *JoinDocument) { j.Cluster = "Bad Cluster" }, field: "key cluster"},
		{name: "role primary", edit: func(j *JoinDocument) { j.Role = RolePrimary }, field: "key role: must be secondary"},
		{name: "role missing", edit: func(j *JoinDocument) { j.Role = "" }, field: "key role: required"},
		{name: "primary missing", edit: func(j *JoinDocument) { j.Join.Primary = "" }, field: "key join.primary: required"},
		{name: "primary newline", edit: func(j *JoinDocument) { j.Join.Primary = "10.0.0.1\nEnvironment=X=1" }, field: "key join.primary"},
		{name: "primary loopback", edit: func(j *JoinDocument) { j.Join.Primary = "127.0.0.1" }, field: "key join.primary"},
		{name: "primary URL", edit: func(j *JoinDocument) { j.Join.Primary = "https://10.0.0.1:5590/" }, field: "key join.primary"},
		{name: "port 0", edit: func(j *JoinDocument) { j.Join.Port = 0 }, field: "key join.port: must be 1-65535"},
		{name: "port reserved", edit: func(j *JoinDocument) { j.Join.Port = 22 }, field: "key join.port: port 22 is used by"},
		{name: "token missing", edit: func(j *JoinDocument) { j.Join.Token = "" }, field: "key join.token: required"},
		{name: "token is a password", edit: func(j *JoinDocument) { j.Join.Token = testPassword }, field: "key join.token: not a join token"},
		{name: "token too long", edit: func(j *JoinDocument) { j.Join.Token = testToken + "x" }, field: "key join.token: not a join token"},
		{name: "token with a newline", edit: func(j *JoinDocument) { j.Join.Token = "k7x2qa.\n9f3hz81mq0c4vw2e" }, field: "key join.token: not a join token"},
		{name: "pin missing", edit: func(j *JoinDocument) { j.Join.CAPin = "" }, field: "key join.caPin: required"},
		{name: "pin of another hash", edit: func(j *JoinDocument) { j.Join.CAPin = strings.Replace(j.Join.CAPin, "sha256:", "sha1:", 1) }, field: "key join.caPin: want"},
		{name: "pin short", edit: func(j *JoinDocument) { j.Join.CAPin = j.Join.CAPin[:40] }, field: "key join.caPin"},
		{name: "port a string", text: func(s string) string { return strings.Replace(s, "port: 5590", "port: '"+testToken+"'", 1) }, field: "key join.port: line"},
		{name: "token a list", text: func(s string) string { return strings.Replace(s, "token: "+testToken, "token: ["+testToken+"]", 1) }, field: "key join.token: line"},
		{name: "join a string", text: func(s string) string {
			return strings.Replace(s, "join:\n", "join: "+testToken+"\nxjoin:\n", 1)
		}, field: "key join: line"},
		{name: "unknown key", text: func(s string) string { return s + testPassword + ": x\n" }, field: "unknown key at the top level"},
		{name: "unknown join key", text: func(s string) string { return strings.Replace(s, "join:\n", "join:\n  "+testToken+": x\n", 1) }, field: "unknown key under join"},
		{name: "a role document's key", text: func(s string) string { return s + "serverconfPassword: " + testPassword + "\n" }, field: "unknown key at the top level"},
		{name: "second document", text: func(s string) string { return s + "---\n" + s }, field: "second YAML document"},
		{name: "alias", text: func(s string) string {
			return strings.Replace(s, "cluster: ss-cluster", "cluster: &c ss-cluster\nx: *c", 1)
		}, field: "anchors and aliases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := joinDoc(t)
			if tc.edit != nil {
				tc.edit(j)
			}
			text := marshalJoin(t, j)
			if tc.text != nil {
				text = tc.text(text)
			}
			doc, join, err := ParseSeed([]byte(text))
			if err == nil {
				t.Fatalf("accepted: %v %v", doc, join)
			}
			if doc != nil || join != nil {
				t.Error("a document besides the error")
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error does not name %q:\n%v", tc.field, err)
			}
			assertNoSecrets(t, err.Error(), m.secrets()...)
			if tc.text == nil {
				if err := j.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
					t.Errorf("Validate: %v", err)
				}
			}
		})
	}
}

// TestParseSeedKind: the join key without node makes a join document; a
// role document keeps every error it had.
func TestParseSeedKind(t *testing.T) {
	for name, tc := range map[string]struct {
		text string
		join bool
		want string
	}{
		"primary with join":   {marshal(t, joinPrimaryDoc(t)), false, ""},
		"secondary":           {marshal(t, secondaryDoc(t)), false, ""},
		"join document":       {marshalJoin(t, joinDoc(t)), true, ""},
		"join with a node":    {marshalJoin(t, joinDoc(t)) + "node: ss4\n", false, "unknown key primary under join"},
		"node without join":   {"version: " + Version + "\nnode: ss4\n", false, "key cluster: required"},
		"neither":             {"version: " + Version + "\n", false, "key cluster: required"},
		"join null":           {"join: ~\nrole: secondary\n", true, "key join.primary: required"},
		"not a mapping":       {"- join\n", false, "must be a mapping"},
		"broken YAML":         {"join: [\n", false, "invalid YAML"},
		"join in a list item": {"- join: x\n", false, "must be a mapping"},
	} {
		t.Run(name, func(t *testing.T) {
			doc, join, err := ParseSeed([]byte(tc.text))
			if tc.want == "" {
				if err != nil || (join != nil) != tc.join || (doc != nil) == tc.join {
					t.Fatalf("doc %v join %v err %v", doc, join, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func TestLoadSeedJoinDocument(t *testing.T) {
	jd := []byte(marshalJoin(t, joinDoc(t)))
	for _, tc := range []struct{ name, file, origin string }{
		{"role file", RoleFile, "role-file:" + RoleFile},
		{"seed", SeedDir + "/user-data", "nocloud-seed:" + SeedDir + "/user-data"},
		{"seed net", SeedDirNet + "/user-data", "nocloud-seed:" + SeedDirNet + "/user-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := testSources(t)
			data := jd
			if tc.file != RoleFile {
				data = cloudConfigFor(t, jd, "b64", "'0600'")
			}
			putFile(t, src.path(tc.file), data, 0o600)
			doc, join, origin, err := LoadSeed(src, "")
			if err != nil || doc != nil || join == nil || origin != tc.origin {
				t.Fatalf("doc %v join %v origin %s: %v", doc, join, origin, err)
			}
			if join.Join.Token != testToken {
				t.Error("token lost")
			}
			_, _, err = Load(src, "")
			if !errors.Is(err, ErrJoinDocument) || !strings.Contains(err.Error(), tc.origin) {
				t.Errorf("Load: %v", err)
			}
			assertNoSecrets(t, err.Error(), material(t).secrets()...)
		})
	}
	t.Run("cidata", func(t *testing.T) {
		src, _ := testSources(t)
		makeISO(t, src.path(LabelDir+"/cidata"), map[string][]byte{"user-data": cloudConfigFor(t, jd, "", "'0600'")})
		if _, join, origin, err := LoadSeed(src, ""); err != nil || join == nil || origin != "cidata:"+LabelDir+"/cidata" {
			t.Fatalf("%v %s %v", join, origin, err)
		}
	})
	t.Run("explicit role document", func(t *testing.T) {
		src, _ := testSources(t)
		explicit := src.path("/tmp/ss2.yaml")
		putFile(t, explicit, []byte(marshal(t, secondaryDoc(t))), 0o600)
		if doc, join, origin, err := LoadSeed(src, explicit); err != nil || doc == nil || join != nil || origin != "explicit:"+explicit {
			t.Fatalf("%v %v %s %v", doc, join, origin, err)
		}
	})
	t.Run("invalid join document", func(t *testing.T) {
		src, _ := testSources(t)
		bad := joinDoc(t)
		bad.Join.CAPin = "sha256:x"
		putFile(t, src.path(RoleFile), []byte(marshalJoin(t, bad)), 0o600)
		if _, _, _, err := LoadSeed(src, ""); err == nil || !strings.Contains(err.Error(), "role-file:"+RoleFile+": key join.caPin") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("world-readable", func(t *testing.T) {
		src, _ := testSources(t)
		putFile(t, src.path(RoleFile), jd, 0o644)
		if _, _, _, err := LoadSeed(src, ""); err == nil || !strings.Contains(err.Error(), "mode 0644") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestFrozenCopyWinsOverJoinDocument: a joined node keeps the join document
// it joined by in its sources; the frozen copy decides, quietly while the
// two agree on the cluster and the role.
func TestFrozenCopyWinsOverJoinDocument(t *testing.T) {
	src, log := testSources(t)
	putFile(t, src.path(RoleFile), []byte(marshalJoin(t, joinDoc(t))), 0o600)
	if err := Freeze(src, secondaryDoc(t)); err != nil {
		t.Fatal(err)
	}
	doc, join, origin, err := LoadSeed(src, "")
	if err != nil || join != nil || doc.Node != "ss2" || origin != "frozen:"+frozenFile {
		t.Fatalf("%v %v %s %v", doc, join, origin, err)
	}
	if _, _, err := Load(src, ""); err != nil {
		t.Fatal(err)
	}
	if log.Len() != 0 {
		t.Errorf("warned: %s", log)
	}
	other := joinDoc(t)
	other.Cluster = "other-cluster"
	putFile(t, src.path(RoleFile), []byte(marshalJoin(t, other)), 0o600)
	if _, _, _, err := LoadSeed(src, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "conflicts with the frozen copy") || !strings.Contains(log.String(), "other-cluster") {
		t.Errorf("conflict not reported: %s", log)
	}
	assertNoSecrets(t, log.String(), material(t).secrets()...)
}

func TestFromUserDataJoinDocument(t *testing.T) {
	jd := []byte(marshalJoin(t, joinDoc(t)))
	for _, enc := range []string{"", "b64", "gz+b64"} {
		raw, err := FromUserData(cloudConfigFor(t, jd, enc, "'0600'"))
		if err != nil {
			t.Fatal(err)
		}
		if _, join, err := ParseSeed(raw); err != nil || join == nil {
			t.Errorf("%s: %v", enc, err)
		}
	}
	if _, err := FromUserData(cloudConfigFor(t, jd, "", "'0644'")); err == nil {
		t.Error("a world-readable join document accepted")
	}
}

func TestJoinSecretsNeverShown(t *testing.T) {
	d := joinPrimaryDoc(t)
	r := d.Redacted()
	text := marshal(t, &r)
	assertNoSecrets(t, text, material(t).secrets()...)
	if !strings.Contains(text, "token: k7x2qa.<redacted>") || !strings.Contains(text, "caKey: <redacted>") {
		t.Errorf("redacted join section:\n%s", text)
	}
	if d.Join.CAKey == RedactedText || d.Join.Tokens[0].Token != testToken {
		t.Fatal("Redacted changed the original")
	}
	if r.Join.Tokens[0].Expires != testExpiry || r.Join.Port != d.Join.Port {
		t.Error("non-secret join fields changed")
	}
	none := *d
	none.Join = &Join{Port: 5590}
	if r := none.Redacted(); r.Join.CAKey != "" {
		t.Errorf("an absent key must stay visibly absent: %v", r.Join)
	}
	if strings.Contains(printed(t, d, joinDoc(t)), "9f3hz81mq0c4vw2e") {
		t.Error("printed the token's secret")
	}
}

// printed is every way a document reaches a terminal or a log.
func printed(t *testing.T, d *Document, j *JoinDocument) string {
	t.Helper()
	var b strings.Builder
	for _, h := range []slog.Handler{slog.NewTextHandler(&b, nil), slog.NewJSONHandler(&b, nil)} {
		slog.New(h).Info("printed", "doc", d, "value", *d, "join", d.Join, "joinValue", *d.Join, "token", d.Join.Tokens[0],
			"jd", j, "jdValue", *j, "target", j.Join)
	}
	for _, v := range []any{d, *d, d.Join, *d.Join, d.Join.Tokens, d.Join.Tokens[0], j, *j, j.Join} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			fmt.Fprintf(&b, verb+"\n", v)
		}
	}
	out := b.String()
	assertNoSecrets(t, out, material(t).secrets()...)
	for _, want := range []string{"k7x2qa", "ss-cluster", "5590"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	return out
}
