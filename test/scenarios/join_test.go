package scenarios

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xroad-appliance/builder/kit"
	"xroad-appliance/builder/secretscan"
	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/join"
	"xroad-appliance/provisioner/jointoken"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/sshkey"
	"xroad-appliance/test/cluster"
	"xroad-appliance/test/nodeimage"
)

// TestJoinByToken: a primary, then three secondaries booted at the same
// moment from one user-data that holds no key and no password, each named
// by its instance's meta-data, all streaming and synced; every refusal the
// join service makes changes nothing on the primary; a gone secondary is
// forgotten; after a fail-over a fourth joins the promoted primary.
func TestJoinByToken(t *testing.T) {
	tc := newJoinCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	joinUD, err := os.ReadFile(tc.kit.Join.UserData)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("join user-data holds no secret but the token", func(t *testing.T) {
		expectNoNodeSecrets(t, tc, joinUD)
	})

	ss1 := tc.boot(t, "ss1")
	waitProvisioned(t, ctx, ss1)
	nodes := map[string]*cluster.Node{"ss1": ss1}
	for i, name := range []string{"ss2", "ss3", "ss4"} {
		nodes[name] = tc.createJoiner(t, name, tc.Addr(12+i), joinUD)
	}
	for _, name := range []string{"ss2", "ss3", "ss4"} {
		if err := nodes[name].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"ss2", "ss3", "ss4"} {
		waitProvisioned(t, ctx, nodes[name])
	}
	expectStreaming(t, ctx, ss1, "ss2", "ss3", "ss4")
	ss1.MustExec(ctx, "sh", "-c", "echo joined > /etc/xroad/signer/join-probe && chown xroad:xroad /etc/xroad/signer/join-probe")
	for _, name := range []string{"ss2", "ss3", "ss4"} {
		n := nodes[name]
		mustXroadNode(t, ctx, n, "sync", "now")
		if got := strings.TrimSpace(n.MustExec(ctx, "cat", "/etc/xroad/signer/join-probe")); got != "joined" {
			t.Errorf("%s: /etc/xroad/signer not synced: %q", name, got)
		}
		expectHealthy(t, ctx, n)
		if keys := n.MustExec(ctx, "sh", "-c", "ls -A "+nodestate.JoinDir+" 2>/dev/null || true"); strings.TrimSpace(keys) != "" {
			t.Errorf("%s: the joiner's kept keys remain: %s", name, keys)
		}
	}
	if got := sql(t, ctx, ss1, "postgres", "SELECT string_agg(name, ',' ORDER BY name) FROM xroad_node.members"); got != "ss2,ss3,ss4" {
		t.Errorf("member record on ss1: %q", got)
	}
	// The record reaches the secondaries by replication.
	eventually(t, ctx, time.Minute, "ss2 holds the member record", func() (bool, string) {
		got := sql(t, ctx, nodes["ss2"], "postgres", "SELECT string_agg(name, ',' ORDER BY name) FROM xroad_node.members")
		return got == "ss2,ss3,ss4", got
	})

	seed, err := joinSeed(joinUD)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := seed.Join.ParseToken()
	if err != nil {
		t.Fatal(err)
	}
	client := func(tok jointoken.Token, pin string) *join.Client {
		return &join.Client{Address: ss1.Addr, Port: seed.Join.Port, Token: tok, Pin: pin, Timeout: time.Minute}
	}

	t.Run("refusals change nothing on the primary", func(t *testing.T) {
		// A short-lived token, expired by the time it is tried.
		mustXroadNode(t, ctx, ss1, "join-token", "--ttl", "1s", "--uses", "1", "--out", "/root/short.yaml")
		short, err := joinSeed([]byte(ss1.MustExec(ctx, "cat", "/root/short.yaml")))
		if err != nil {
			t.Fatal(err)
		}
		shortTok, err := short.Join.ParseToken()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		before := primaryState(t, ctx, ss1)

		unknown, _ := jointoken.New()
		wrongPin := "sha256:" + strings.Repeat("0", 64)
		cases := []struct {
			name   string
			client *join.Client
			node   string
			want   string
		}{
			{"expired token", client(shortTok, seed.Join.CAPin), "ss9", "token expired"},
			{"unknown token", client(unknown, seed.Join.CAPin), "ss9", "unknown token"},
			{"wrong CA pin", client(tok, wrongPin), "ss9", "CA pin mismatch"},
			{"name already in the cluster", client(tok, seed.Join.CAPin), "ss3", "name already in the cluster"},
			{"name against the naming rules", client(tok, seed.Join.CAPin), "SS_9", "must be 1-63 lowercase letters"},
		}
		// The service allows one request a second from an address (a
		// burst of five); each case makes two.
		pace := func() { time.Sleep(2 * time.Second) }
		for _, c := range cases {
			pace()
			_, err := joinAs(ctx, t, tc.facts(t), c.client, c.node)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: joined or refused for another reason: %v (want %q)", c.name, err, c.want)
			}
		}
		if after := primaryState(t, ctx, ss1); after != before {
			t.Errorf("a refused join changed the primary:\nbefore %s\nafter  %s", before, after)
		}

		// A replayed request: ss9 joins from here (the test is its host),
		// then the same bytes are sent again.
		c := client(tok, seed.Join.CAPin)
		pace()
		info, err := c.Discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		body, err := joinRequest(t, tc.facts(t), tok, "ss9")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send(ctx, info, body, tok.MAC(body)); err != nil {
			t.Fatalf("ss9 joins: %v", err)
		}
		before = primaryState(t, ctx, ss1)
		pace()
		if _, err := c.Send(ctx, info, body, tok.MAC(body)); err == nil || !strings.Contains(err.Error(), "replayed request") {
			t.Errorf("replayed request: %v", err)
		}
		if after := primaryState(t, ctx, ss1); after != before {
			t.Errorf("a replayed request changed the primary:\nbefore %s\nafter  %s", before, after)
		}
	})

	t.Run("forget a gone secondary", func(t *testing.T) {
		if out, code := xroadNode(ctx, ss1, "forget", "ss2"); code != 3 || !strings.Contains(out, "still streams") {
			t.Errorf("forget of a streaming secondary: exit %d\n%s", code, out)
		}
		if out, code := xroadNode(ctx, ss1, "forget", "nosuch"); code != 3 || !strings.Contains(out, "not a secondary") {
			t.Errorf("forget of an unknown name: exit %d\n%s", code, out)
		}
		t.Logf("ss1 forget ss9: %s", mustXroadNode(t, ctx, ss1, "forget", "ss9"))
		if got := sql(t, ctx, ss1, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname = 'ss9'"); got != "0" {
			t.Errorf("ss9's replication role remains (%s)", got)
		}
		if keys := ss1.MustExec(ctx, "cat", "/home/xroad-slave/.ssh/authorized_keys"); strings.Contains(keys, "ss9") {
			t.Errorf("ss9's sync key remains:\n%s", keys)
		}
		if got := sql(t, ctx, ss1, "postgres", "SELECT string_agg(name, ',' ORDER BY name) FROM xroad_node.members"); got != "ss2,ss3,ss4" {
			t.Errorf("member record after forget: %q", got)
		}
		expectStreaming(t, ctx, ss1, "ss2", "ss3", "ss4")
	})

	t.Run("a fourth joins after a fail-over", func(t *testing.T) {
		if err := ss1.Stop(); err != nil {
			t.Fatal(err)
		}
		ss2 := nodes["ss2"]
		t.Logf("ss2 promote: %s", mustXroadNode(t, ctx, ss2, "promote"))
		for _, name := range []string{"ss3", "ss4"} {
			t.Logf("%s repoint: %s", name, mustXroadNode(t, ctx, nodes[name], "repoint", "--primary", "ss2"))
		}
		// The promoted node has no CA key until the operator gives it the kit's.
		if out, code := xroadNode(ctx, ss2, "join-token", "--out", "/root/join.yaml"); code != 3 || !strings.Contains(out, "--ca-key") {
			t.Errorf("join-token without a CA key: exit %d\n%s", code, out)
		}
		caKey, err := os.ReadFile(filepath.Join(tc.kit.Dir, "ca", "ca.key"))
		if err != nil {
			t.Fatal(err)
		}
		if err := ss2.WriteFile("/root/ca.key", caKey, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Log(mustXroadNode(t, ctx, ss2, "join-token", "--ca-key", "/root/ca.key", "--uses", "1", "--out", "/root/join.yaml"))
		ss2.MustExec(ctx, "rm", "/root/ca.key")
		ud := []byte(ss2.MustExec(ctx, "cat", "/root/join.yaml"))
		expectNoNodeSecrets(t, tc, ud)
		ss5 := tc.createJoiner(t, "ss5", tc.Addr(15), ud)
		if err := ss5.Start(); err != nil {
			t.Fatal(err)
		}
		waitProvisioned(t, ctx, ss5)
		expectStreaming(t, ctx, ss2, "ss3", "ss4", "ss5")
		ss2.MustExec(ctx, "sh", "-c", "echo after-promote > /etc/xroad/signer/join-probe")
		mustXroadNode(t, ctx, ss5, "sync", "now")
		if got := strings.TrimSpace(ss5.MustExec(ctx, "cat", "/etc/xroad/signer/join-probe")); got != "after-promote" {
			t.Errorf("ss5: /etc/xroad/signer not synced from ss2: %q", got)
		}
		expectHealthy(t, ctx, ss5)
	})
}

// joinCluster is a testCluster whose kit has a primary only and a join section.
type joinCluster struct{ *testCluster }

func newJoinCluster(t testing.TB) *joinCluster {
	img := imageFor(t, nodeimage.DefaultProfile, nodeimage.Version)
	c := cluster.New(t, img.Rootfs)
	spec := kit.Spec{
		Cluster: "test", Profile: nodeimage.DefaultProfile, Options: kit.DefaultOptions(),
		Primary: kit.Node{Name: "ss1", Address: c.Addr(11)},
		Join:    &kit.JoinSpec{Port: metadata.DefaultJoinPort, TTL: "1h"},
	}
	res, err := kit.Generate(spec, nil, filepath.Join(t.TempDir(), "kit"), kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &joinCluster{&testCluster{Cluster: c, kit: res, profile: nodeimage.DefaultProfile, image: img}}
}

// createJoiner makes a node that boots with the join user-data; its name
// comes from its own meta-data, as a cloud gives each instance its own.
func (tc *joinCluster) createJoiner(t testing.TB, name, addr string, userData []byte) *cluster.Node {
	t.Helper()
	meta := fmt.Sprintf("instance-id: iid-%s\nlocal-hostname: %s.test.internal\n", name, name)
	return tc.Create(name, addr, cluster.Seed{"user-data": userData, "meta-data": []byte(meta)})
}

func (tc *joinCluster) facts(t *testing.T) *profiles.Facts {
	t.Helper()
	f, err := profiles.Resolve(tc.profile, "")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// expectNoNodeSecrets scans a join user-data: no private key, no password
// of the kit, only the token.
func expectNoNodeSecrets(t *testing.T, tc *joinCluster, ud []byte) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "user-data"), ud, 0o600); err != nil {
		t.Fatal(err)
	}
	findings, err := secretscan.Scan(context.Background(), dir, secretscan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("join user-data: %v", f)
	}
	primary, err := os.ReadFile(filepath.Join(tc.kit.Nodes[0].Dir, "user-data"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := metadata.FromUserData(primary)
	if err != nil {
		t.Fatal(err)
	}
	pd, err := metadata.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"serverconf password": pd.ServerconfPassword, "CA key": pd.Join.CAKey, "primary TLS key": pd.TLS.Key,
		"primary host key": pd.SSH.HostKey}
	for what, s := range secrets {
		if s != "" && bytes.Contains(ud, []byte(strings.TrimSpace(s))) {
			t.Errorf("join user-data holds the %s", what)
		}
	}
	if bytes.Contains(ud, []byte("PRIVATE KEY")) || bytes.Contains(ud, []byte("assword")) {
		t.Errorf("join user-data names a private key or a password:\n%s", ud)
	}
}

func joinSeed(ud []byte) (*metadata.JoinDocument, error) {
	raw, err := metadata.FromUserData(ud)
	if err != nil {
		return nil, err
	}
	_, seed, err := metadata.ParseSeed(raw)
	if err == nil && seed == nil {
		err = errors.New("not a join document")
	}
	return seed, err
}

// joinAs runs the joiner's two requests as node name with fresh keys.
func joinAs(ctx context.Context, t *testing.T, f *profiles.Facts, c *join.Client, name string) (*join.Grant, error) {
	info, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	body, err := joinRequest(t, f, c.Token, name)
	if err != nil {
		return nil, err
	}
	return c.Send(ctx, info, body, c.Token.MAC(body))
}

// joinRequest is a join request body for name with fresh keys.
func joinRequest(t *testing.T, f *profiles.Facts, tok jointoken.Token, name string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := join.NewCSR(key, name)
	if err != nil {
		return nil, err
	}
	user, err := sshkey.New(f.SSH.KeyType, f.SSH.KeyBits, "xroad@"+name)
	if err != nil {
		return nil, err
	}
	host, err := sshkey.New(f.SSH.KeyType, f.SSH.KeyBits, "root@"+name)
	if err != nil {
		return nil, err
	}
	nonce, err := join.NewNonce()
	if err != nil {
		return nil, err
	}
	return json.Marshal(join.Request{Token: tok.ID, Name: name, CSR: csr, SSHPublicKey: user.Public, HostKey: host.Public,
		Nonce: nonce, Time: time.Now().UTC().Truncate(time.Second)})
}

// primaryState is what a join changes on the primary: its topology, the
// sync user's keys, the replication roles, the member record and the join
// service's store.
func primaryState(t *testing.T, ctx context.Context, n *cluster.Node) string {
	t.Helper()
	files := n.MustExec(ctx, "sh", "-c", "sha256sum "+nodestate.TopologyFile+" /home/xroad-slave/.ssh/authorized_keys "+nodestate.JoinDir+"/* 2>/dev/null || true")
	roles := sql(t, ctx, n, "postgres", "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles")
	members := sql(t, ctx, n, "postgres", "SELECT string_agg(name, ',' ORDER BY name) FROM xroad_node.members")
	return fmt.Sprintf("files %s roles %s members %s", strings.Join(strings.Fields(files), " "), roles, members)
}
