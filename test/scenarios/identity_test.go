package scenarios

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"xroad-appliance/builder/kit"
	"xroad-appliance/test/cluster"
)

// The per-install material a security server holds: private keys and
// certificates, and files whose values are passwords.
var (
	identityFiles = []string{
		"/etc/xroad/ssl/internal.key", "/etc/xroad/ssl/internal.crt", "/etc/xroad/ssl/internal.p12",
		"/etc/xroad/ssl/proxy-ui-api.key", "/etc/xroad/ssl/proxy-ui-api.crt", "/etc/xroad/ssl/proxy-ui-api.p12",
		"/etc/xroad/postgresql/server.key", "/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key",
		"/etc/ssl/private/ssl-cert-snakeoil.key", "/etc/machine-id",
	}
	// syncedIdentity is what guide 5 gives every node of a cluster.
	syncedIdentity = []string{
		"/etc/xroad/ssl/internal.key", "/etc/xroad/ssl/internal.crt", "/etc/xroad/ssl/internal.p12",
		"/etc/xroad/ssl/proxy-ui-api.key", "/etc/xroad/ssl/proxy-ui-api.crt", "/etc/xroad/ssl/proxy-ui-api.p12",
	}
	passwordFiles = []string{"/etc/xroad/db.properties", "/etc/xroad.properties"}
)

// nodeIdentity is one node's material: file -> sha256, and every password
// property as file#key -> value.
type nodeIdentity struct {
	files     map[string]string
	passwords map[string]string
}

func identityOf(t *testing.T, ctx context.Context, n *cluster.Node) nodeIdentity {
	t.Helper()
	id := nodeIdentity{files: map[string]string{}, passwords: map[string]string{}}
	for _, f := range identityFiles {
		if out, err := n.Exec(ctx, "sha256sum", f); err == nil {
			id.files[f] = strings.Fields(out)[0]
		}
	}
	for _, f := range passwordFiles {
		data, err := n.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			k, v, ok := strings.Cut(line, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if ok && strings.HasSuffix(strings.ToLower(k), "password") && v != "" {
				id.passwords[f+"#"+k] = v
			}
		}
	}
	return id
}

// TestIdentityBornAtFirstBoot boots two clusters from one image. The image
// holds no per-install secret, so the two share no private key, certificate
// or password; within a cluster the nodes share exactly what the guide
// syncs (the TLS identities in /etc/xroad/ssl) and the serverconf password
// the kit gives them, and each has its own host keys, database passwords
// and machine id. Every node has the kit's X-Road admin user, in the groups
// its role gets, and the user logs in through PAM with the kit's password.
func TestIdentityBornAtFirstBoot(t *testing.T) {
	a, b := newCluster(t, 1), newCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	nodes := map[string]*cluster.Node{}
	for name, tc := range map[string]*testCluster{"a": a, "b": b} {
		for _, n := range []string{"ss1", "ss2"} {
			nodes[name+"/"+n] = tc.boot(t, n)
		}
	}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); waitProvisioned(t, ctx, n) }()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	ids := map[string]nodeIdentity{}
	for name, n := range nodes {
		ids[name] = identityOf(t, ctx, n)
		for _, f := range syncedIdentity {
			if ids[name].files[f] == "" {
				t.Errorf("%s: no %s", name, f)
			}
		}
		if len(ids[name].passwords) < 4 {
			t.Errorf("%s: only %d passwords in db.properties and xroad.properties", name, len(ids[name].passwords))
		}
	}

	t.Run("two clusters share nothing", func(t *testing.T) {
		for _, x := range []string{"a/ss1", "a/ss2"} {
			for _, y := range []string{"b/ss1", "b/ss2"} {
				for f, sum := range ids[x].files {
					if ids[y].files[f] == sum {
						t.Errorf("%s and %s have the same %s", x, y, f)
					}
				}
				seen := map[string]string{}
				for k, v := range ids[x].passwords {
					seen[v] = k
				}
				for k, v := range ids[y].passwords {
					if other, ok := seen[v]; ok {
						t.Errorf("%s %s repeats %s %s", y, k, x, other)
					}
				}
			}
		}
	})

	t.Run("one cluster shares what the guide syncs", func(t *testing.T) {
		for _, c := range []string{"a", "b"} {
			p, s := ids[c+"/ss1"], ids[c+"/ss2"]
			for f, sum := range p.files {
				synced := false
				for _, g := range syncedIdentity {
					synced = synced || g == f
				}
				if same := s.files[f] == sum; same != synced {
					t.Errorf("cluster %s: %s the same on both nodes: %v, want %v", c, f, same, synced)
				}
			}
			for k, v := range p.passwords {
				shared := strings.HasSuffix(k, "#serverconf.hibernate.connection.password")
				if same := s.passwords[k] == v; same != shared {
					t.Errorf("cluster %s: %s the same on both nodes: %v, want %v", c, k, same, shared)
				}
			}
		}
	})

	t.Run("status says where each item came from", func(t *testing.T) {
		for name, n := range nodes {
			r, _ := nodeStatus(t, ctx, n)
			origin := "generated here"
			if strings.HasSuffix(name, "ss2") {
				origin = "synced from the primary"
			}
			certs := 0
			for _, id := range r.Identity {
				if id.Time == nil {
					t.Errorf("%s: %s has no time", name, id.Item)
				}
				if strings.HasPrefix(id.Item, "/etc/xroad/ssl/") {
					certs++
					if id.Origin != origin {
						t.Errorf("%s: %s %s, want %s", name, id.Item, id.Origin, origin)
					}
				}
			}
			if certs != 2 {
				t.Errorf("%s: status lists %d TLS identities, want 2: %+v", name, certs, r.Identity)
			}
		}
	})

	t.Run("admin user", func(t *testing.T) {
		for name, n := range nodes {
			tc := a
			if strings.HasPrefix(name, "b/") {
				tc = b
			}
			want := []string{"xroad-security-officer", "xroad-securityserver-observer"}
			gone := []string{"xroad-registration-officer", "xroad-service-administrator", "xroad-system-administrator"}
			if strings.HasSuffix(name, "ss1") {
				want, gone = append(want, gone...), nil
			}
			expectAdminUser(t, ctx, n, tc.kit, want, gone)
		}
	})
}

// expectAdminUser checks the kit's X-Road admin user on n: in every group
// of want and none of gone, and accepted through PAM with the kit's password
// (and refused with another) as the admin UI, running as xroad, asks PAM.
func expectAdminUser(t *testing.T, ctx context.Context, n *cluster.Node, k *kit.Result, want, gone []string) {
	t.Helper()
	user, password := k.AdminUser, k.AdminPassword
	groups := " " + strings.TrimSpace(n.MustExec(ctx, "id", "-nG", user)) + " "
	for _, g := range want {
		if !strings.Contains(groups, " "+g+" ") {
			t.Errorf("%s: %s is not in %s (groups:%s)", n.Name, user, g, groups)
		}
	}
	for _, g := range gone {
		if strings.Contains(groups, " "+g+" ") {
			t.Errorf("%s: %s is in %s", n.Name, user, g)
		}
	}
	pamtester, err := os.ReadFile("/usr/bin/pamtester")
	if err != nil {
		t.Fatalf("pamtester (test/host/setup installs it): %v", err)
	}
	if err := n.WriteFile("/usr/local/bin/pamtester", pamtester, 0o755); err != nil {
		t.Fatal(err)
	}
	// The admin UI asks PAM service "xroad"; without its own file PAM uses
	// "other", the system's common stack. pam_unix reads /etc/shadow
	// through the shadow group xroad-base puts xroad in.
	// The password reaches pamtester on stdin from a root-only file, never
	// in a command line.
	login := func(pw string) error {
		if err := n.WriteFile("/root/pam-test-password", []byte(pw+"\n"), 0o600); err != nil {
			return err
		}
		_, err := n.Exec(ctx, "sh", "-c", "runuser -u xroad -- /usr/local/bin/pamtester xroad "+user+" authenticate < /root/pam-test-password")
		return err
	}
	defer n.Exec(ctx, "rm", "-f", "/root/pam-test-password")
	if err := login(password); err != nil {
		t.Errorf("%s: %s does not authenticate through PAM with the kit's password: %v", n.Name, user, err)
	}
	if err := login(password + "x"); err == nil {
		t.Errorf("%s: PAM accepts a wrong password", n.Name)
	}
}
