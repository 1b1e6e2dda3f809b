package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"xroad-appliance/builder/kit"
	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/operations"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/securityserver"
)

// secondaries is the cluster size every case reaches: nine secondaries
// first, then a tenth added as `xroad-node reseed` adds one. Ten is the size
// at which a standby holding PostgreSQL's default max_wal_senders (10) below
// its primary's stopped starting on 12 and later.
const secondaries = 10

// ssCluster is a security-server cluster of one primary and ten secondaries
// on addresses 10.254.1.N of the namespace's node network, each node on its own port.
type ssCluster struct {
	c         *caseRun
	primary   *node
	secondary []*node
	// added is the secondary that joins the running cluster, and grown
	// every node's document from the kit that added it.
	added *node
	grown map[string]*metadata.Document
}

func ssInstance(f *profiles.Facts) profiles.Instance { return f.PG.Serverconf.Instance }

// ssNode is the provisioner's node for n with document doc, following a
// primary on primaryPort (0: its own, as for the primary itself).
func (n *node) ss(doc *metadata.Document, primaryPort int) *phase.Context {
	return &phase.Context{Doc: doc, Facts: n.facts, Systemd: units{n.srv}, State: n.state, Log: n.log,
		PrimaryWait: time.Minute, FollowersWait: time.Minute, TLSFiles: n.tls, PrimaryPort: primaryPort}
}

// ops is the day-2 commands' node for n.
func (n *node) ops(doc *metadata.Document, out *bytes.Buffer) *operations.Node {
	return &operations.Node{Context: &phase.Context{Doc: doc, Facts: n.facts, Systemd: units{n.srv}, State: n.state, Log: n.log, Out: out}}
}

// kitDocuments makes the cluster's role documents with the kit itself:
// CA, certificates with the node names as CN, keys, passwords.
// With reuse it runs again over the same kit, keeping CA, keys and passwords.
func kitDocuments(dir string, spec kit.Spec, facts *profiles.Facts, reuse bool) (map[string]*metadata.Document, error) {
	res, err := kit.Generate(spec, facts, filepath.Join(dir, "kit"), kit.Options{Reuse: reuse})
	if err != nil {
		return nil, err
	}
	docs := map[string]*metadata.Document{}
	for _, nr := range res.Nodes {
		ud, err := os.ReadFile(filepath.Join(nr.Dir, "user-data"))
		if err != nil {
			return nil, err
		}
		raw, err := metadata.FromUserData(ud)
		if err != nil {
			return nil, err
		}
		if docs[nr.Name], err = metadata.Parse(raw); err != nil {
			return nil, fmt.Errorf("%s: %w", nr.Name, err)
		}
	}
	return docs, nil
}

func address(i int) string { return fmt.Sprintf("10.254.1.%d", i+1) }

// runSecurityServer runs the security-server checks of one case.
func runSecurityServer(ctx context.Context, c *caseRun) {
	spec := kit.Spec{Cluster: "matrix", Primary: kit.Node{Name: "ss1", Address: address(0)}, Options: kit.DefaultOptions()}
	for i := 1; i <= secondaries; i++ {
		spec.Secondaries = append(spec.Secondaries, kit.Node{Name: fmt.Sprintf("ss%d", i+1), Address: address(i)})
	}
	// The cluster starts without its last secondary; the kit is then run
	// again with it, keeping every key, as an operator adds a secondary.
	first := spec
	first.Secondaries = spec.Secondaries[:secondaries-1]
	docs, err := kitDocuments(c.dir, first, c.facts, false)
	if err != nil {
		c.fail("kit", err)
		return
	}
	grown, err := kitDocuments(c.dir, spec, c.facts, true)
	if err != nil {
		c.fail("kit", err)
		return
	}
	cl := &ssCluster{c: c, grown: grown}
	mk := func(doc *metadata.Document, addr string) (*node, error) {
		return newNode(ctx, c.dir, doc, addr, c.facts, ssInstance)
	}
	if cl.primary, err = mk(docs["ss1"], address(0)); err != nil {
		c.fail("layout", err)
		return
	}
	for i, s := range first.Secondaries {
		n, err := mk(docs[s.Name], address(i+1))
		if err != nil {
			c.fail("layout", err)
			return
		}
		cl.secondary = append(cl.secondary, n)
	}
	last := spec.Secondaries[secondaries-1]
	if cl.added, err = mk(grown[last.Name], last.Address); err != nil {
		c.fail("layout", err)
		return
	}
	defer cl.stop()
	steps := []struct {
		name string
		fn   func(context.Context) (string, error)
	}{
		{"primary", cl.primarySetup},
		{"", nil}, // basebackup and standby
		{"streaming", cl.streaming},
		{"secondary-added", cl.addSecondary},
		{"replay", cl.replay},
		{"handover", cl.handover},
		{"promote", cl.promote},
		{"repoint", cl.repoint},
		{"forget", cl.forget},
	}
	for _, s := range steps {
		if s.fn == nil {
			if !cl.secondariesUp(ctx) {
				return
			}
			continue
		}
		if !c.check(s.name, func() (string, error) { return s.fn(ctx) }) {
			return
		}
	}
}

func (cl *ssCluster) stop() {
	ctx := context.Background()
	for _, n := range append([]*node{cl.primary, cl.added}, cl.secondary...) {
		if n != nil && n.srv != nil {
			n.srv.stop(ctx)
		}
	}
}

// primarySetup: the serverconf instance, the pg_ident map and pg_hba block,
// guide 4.3's settings, a start, the replication and serverconf roles.
func (cl *ssCluster) primarySetup(ctx context.Context) (string, error) {
	p := cl.primary
	tmpl, err := cl.c.templates.get(ctx, strconv.Itoa(p.facts.PG.Major), p.facts.PG.Serverconf.AuthHost)
	if err != nil {
		return "", err
	}
	if err := p.createInstance(tmpl, true, p.facts.PG.Serverconf.Instance); err != nil {
		return "", err
	}
	if err := p.converge(ctx, securityserver.Plan(p.ss(p.doc, 0)), "local-access", "replication", "serverconf-start", "roles", "members"); err != nil {
		return "", fmt.Errorf("%w\n%s", err, p.srv.logTail())
	}
	f := p.facts.PG
	want := map[string]string{"ssl": "on", "listen_addresses": "*", "ssl_cert_file": p.tls.Cert, "ssl_ca_file": p.tls.CA,
		"password_encryption": f.PasswordEncryption}
	if f.WalLevel == "hot_standby" {
		want["wal_level"] = "replica" // 9.6 made hot_standby an alias of replica
	} else {
		want["wal_level"] = f.WalLevel
	}
	for k, v := range want {
		got, err := p.show(ctx, k)
		if err != nil {
			return "", err
		}
		if got != v {
			return "", fmt.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	var keep string
	if err := p.query(ctx, "SELECT setting || coalesce(unit, '') FROM pg_settings WHERE name = "+pg.Literal(f.WalRetentionKey), &keep); err != nil {
		return "", fmt.Errorf("%s: %w", f.WalRetentionKey, err)
	}
	senders, err := p.show(ctx, "max_wal_senders")
	if err != nil {
		return "", err
	}
	// Every secondary's first base backup takes two walsenders, all at once.
	if n, _ := strconv.Atoi(senders); n < 2*len(cl.secondary) {
		return "", fmt.Errorf("max_wal_senders = %s: fewer than two per secondary (%d)", senders, len(cl.secondary))
	}
	return fmt.Sprintf("max_wal_senders %s, %s %s, password_encryption %s", senders, f.WalRetentionKey, keep, f.PasswordEncryption), nil
}

// parallel runs fn for every secondary, a few at a time.
func (cl *ssCluster) parallel(nodes []*node, fn func(*node) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	sem := make(chan struct{}, 4)
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := fn(n); err != nil {
				errs[i] = fmt.Errorf("%s: %w", n.name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// secondariesUp runs each secondary's provisioning as the provisioner
// orders it, a few nodes at a time: its serverconf instance; the
// basebackup phase (pg_basebackup over TLS, verify-ca, certificate
// authentication as the node's CN, the standby file written into the
// backup); local access, guide 4.4's standby settings and a start. Each
// standby must come up hot with its primary's max_wal_senders. It records
// the basebackup and standby checks.
func (cl *ssCluster) secondariesUp(ctx context.Context) bool {
	p := cl.primary
	tmpl, err := cl.c.templates.get(ctx, strconv.Itoa(p.facts.PG.Major), p.facts.PG.Serverconf.AuthHost)
	if err != nil {
		cl.c.fail("basebackup", err)
		return false
	}
	want, err := p.show(ctx, "max_wal_senders")
	if err != nil {
		cl.c.fail("basebackup", err)
		return false
	}
	method := p.facts.PG.Standby.Method
	var mu sync.Mutex
	var backupErrs, standbyErrs []error
	cl.parallel(cl.secondary, func(n *node) error {
		if err := cl.baseBackup(ctx, n, tmpl, method); err != nil {
			mu.Lock()
			backupErrs = append(backupErrs, fmt.Errorf("%s: %w", n.name, err))
			mu.Unlock()
			return nil
		}
		if err := cl.standby(ctx, n, want); err != nil {
			mu.Lock()
			standbyErrs = append(standbyErrs, fmt.Errorf("%s: %w", n.name, err))
			mu.Unlock()
		}
		return nil
	})
	ok := cl.c.check("basebackup", func() (string, error) {
		return fmt.Sprintf("%d secondaries, %s, verify-ca certificate authentication", len(cl.secondary), method), errors.Join(backupErrs...)
	})
	return ok && cl.c.check("standby", func() (string, error) {
		return fmt.Sprintf("%d hot standbys, max_wal_senders %s as on the primary", len(cl.secondary), want), errors.Join(standbyErrs...)
	})
}

func (cl *ssCluster) baseBackup(ctx context.Context, n *node, tmpl string, method profiles.StandbyMethod) error {
	if err := n.createInstance(tmpl, false, n.facts.PG.Serverconf.Instance); err != nil {
		return err
	}
	if err := n.converge(ctx, securityserver.Plan(n.ss(n.doc, cl.primary.srv.port)), "basebackup"); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(n.facts.PG.Serverconf.DataDir, string(method)))
	if err != nil {
		return fmt.Errorf("the backup has no %s: %w", method, err)
	}
	if method == profiles.RecoveryConf {
		for _, want := range []string{"standby_mode = 'on'", "application_name=" + n.name, "sslmode=verify-ca"} {
			if !strings.Contains(string(b), want) {
				return fmt.Errorf("recovery.conf lacks %q", want)
			}
		}
	}
	return nil
}

func (cl *ssCluster) standby(ctx context.Context, n *node, want string) error {
	if err := n.converge(ctx, securityserver.Plan(n.ss(n.doc, cl.primary.srv.port)), "local-access", "standby", "serverconf-start"); err != nil {
		return fmt.Errorf("%w\n%s", err, n.srv.logTail())
	}
	var in bool
	if err := n.query(ctx, "SELECT pg_is_in_recovery()", &in); err != nil {
		return err
	}
	if !in {
		return errors.New("not in recovery")
	}
	got, err := n.show(ctx, "max_wal_senders")
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("max_wal_senders = %s, the primary's is %s", got, want)
	}
	return nil
}

// streaming: the primary's and the secondaries' verify phases; every
// walsender is TLS and named by its node.
func (cl *ssCluster) streaming(ctx context.Context) (string, error) {
	p := cl.primary
	if err := p.converge(ctx, securityserver.Plan(p.ss(p.doc, 0)), "verify"); err != nil {
		return "", err
	}
	err := cl.parallel(cl.secondary, func(n *node) error {
		if err := n.converge(ctx, securityserver.Plan(n.ss(n.doc, cl.primary.srv.port)), "verify"); err != nil {
			return fmt.Errorf("%w\n%s", err, n.srv.logTail())
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	var names []string
	for _, s := range cl.secondary {
		names = append(names, pg.Literal(s.name))
	}
	var tlsNamed int
	if err := p.query(ctx, `SELECT count(*) FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
		WHERE s.ssl AND r.state = 'streaming' AND r.application_name IN (`+strings.Join(names, ",")+`)`, &tlsNamed); err != nil {
		return "", err
	}
	if tlsNamed != len(cl.secondary) {
		return "", fmt.Errorf("%d of %d secondaries stream over TLS under their node names", tlsNamed, len(cl.secondary))
	}
	return fmt.Sprintf("pg_stat_replication: %d node names, all over TLS", tlsNamed), nil
}

// addSecondary: a secondary joins the running cluster as `xroad-node
// reseed` lets it in. The primary takes its grown document (WAL retention
// for one more, the new replication role; its walsenders cover the largest
// cluster already), the new node is backed up and starts as a hot standby,
// and the nine that keep their documents stay hot and streaming, with the
// primary's max_wal_senders and no setting on the primary waiting for a
// restart. The others then record the new member, so that promote and
// repoint below include it.
func (cl *ssCluster) addSecondary(ctx context.Context) (string, error) {
	p, joining := cl.primary, cl.added
	next, added, err := p.doc.Reseeded(cl.grown[p.name])
	if err != nil {
		return "", err
	}
	if len(added) != 1 || added[0].Name != joining.name {
		return "", fmt.Errorf("the grown seed adds %v, want %s", added, joining.name)
	}
	before, err := p.walRetention(ctx)
	if err != nil {
		return "", err
	}
	if err := p.converge(ctx, securityserver.MembersPlan(p.ss(next, 0)), "replication", "serverconf-reload", "roles", "members"); err != nil {
		return "", fmt.Errorf("%w\n%s", err, p.srv.logTail())
	}
	p.doc = next
	after, err := p.walRetention(ctx)
	if err != nil {
		return "", err
	}
	if after == before {
		return "", fmt.Errorf("%s stayed %s with one more secondary", p.facts.PG.WalRetentionKey, before)
	}
	var pending []string
	if err := p.query(ctx, "SELECT coalesce(array_agg(name::text), '{}') FROM pg_settings WHERE pending_restart", &pending); err != nil {
		return "", err
	}
	if len(pending) > 0 {
		return "", fmt.Errorf("the primary waits for a restart to apply %v: its secondaries would then run below its values", pending)
	}
	tmpl, err := cl.c.templates.get(ctx, strconv.Itoa(p.facts.PG.Major), p.facts.PG.Serverconf.AuthHost)
	if err != nil {
		return "", err
	}
	want, err := p.show(ctx, "max_wal_senders")
	if err != nil {
		return "", err
	}
	if err := cl.baseBackup(ctx, joining, tmpl, p.facts.PG.Standby.Method); err != nil {
		return "", fmt.Errorf("%s: %w", joining.name, err)
	}
	if err := cl.standby(ctx, joining, want); err != nil {
		return "", fmt.Errorf("%s: %w", joining.name, err)
	}
	for _, n := range cl.secondary {
		if n.doc, _, err = n.doc.Reseeded(cl.grown[n.name]); err != nil {
			return "", fmt.Errorf("%s: %w", n.name, err)
		}
	}
	cl.secondary, cl.added = append(cl.secondary, joining), nil
	err = waitFor(ctx, 30*time.Second, "every secondary streaming", func() (bool, error) {
		streaming, err := pg.Streaming(ctx, p.srv.port)
		for _, n := range cl.secondary {
			if !streaming[n.name] {
				return false, err
			}
		}
		return true, err
	})
	if err != nil {
		return "", err
	}
	err = cl.parallel(cl.secondary, func(n *node) error {
		var in bool
		if err := n.query(ctx, "SELECT pg_is_in_recovery()", &in); err != nil || !in {
			return fmt.Errorf("not a standby (%v)", err)
		}
		if got, err := n.show(ctx, "max_wal_senders"); err != nil || got != want {
			return fmt.Errorf("max_wal_senders = %s (%v), the primary's is %s", got, err, want)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s joined; %d hot standbys stream, max_wal_senders %s on every node, %s %s → %s, no restart pending",
		joining.name, len(cl.secondary), want, p.facts.PG.WalRetentionKey, before, after), nil
}

// replay: xroad-node replay pause, resume and wait on a secondary, with the
// profile's function names: WAL is received but not applied while paused.
func (cl *ssCluster) replay(ctx context.Context) (string, error) {
	s := cl.secondary[1]
	var out bytes.Buffer
	o := s.ops(s.doc, &out)
	fn := s.facts.PG.Functions
	if err := o.ReplayPause(ctx); err != nil {
		return "", err
	}
	if err := cl.primary.exec(ctx, "CREATE TABLE pgmatrix_replay (x int); INSERT INTO pgmatrix_replay VALUES (1)"); err != nil {
		return "", err
	}
	var lsn string
	if err := cl.primary.query(ctx, "SELECT "+fn.CurrentLSN+"()::text", &lsn); err != nil {
		return "", err
	}
	err := waitFor(ctx, 30*time.Second, "WAL received up to "+lsn, func() (bool, error) {
		var ok bool
		err := s.query(ctx, fmt.Sprintf("SELECT coalesce(%s(%s(), %s) >= 0, false)", fn.LSNDiff, fn.LastReceive, pg.Literal(lsn)), &ok)
		return ok, err
	})
	if err != nil {
		return "", err
	}
	var visible bool
	if err := s.query(ctx, "SELECT to_regclass('pgmatrix_replay') IS NOT NULL", &visible); err != nil {
		return "", err
	}
	if visible {
		return "", errors.New("a table made after replay pause is visible on the paused standby")
	}
	var refusal *operations.Refusal
	if err := o.ReplayWait(ctx, time.Second); !errors.As(err, &refusal) {
		return "", fmt.Errorf("replay wait while paused: %v, want a refusal", err)
	}
	if err := o.ReplayResume(ctx); err != nil {
		return "", err
	}
	if err := o.ReplayWait(ctx, 30*time.Second); err != nil {
		return "", err
	}
	if err := s.query(ctx, "SELECT to_regclass('pgmatrix_replay') IS NOT NULL", &visible); err != nil {
		return "", err
	}
	if !visible {
		return "", errors.New("replay wait returned before the table was replayed")
	}
	return fmt.Sprintf("%s/%s, %s = %s", fn.ReplayPause, fn.ReplayResume, fn.LastReceive, fn.LastReplay), nil
}

// handover: xroad-node handover on the primary.
func (cl *ssCluster) handover(ctx context.Context) (string, error) {
	p := cl.primary
	var out bytes.Buffer
	if err := p.ops(p.doc, &out).Handover(ctx, operations.TopologyWaits{Follow: time.Minute}); err != nil {
		return "", err
	}
	if ro, err := p.show(ctx, "default_transaction_read_only"); err != nil || ro != "on" {
		return "", fmt.Errorf("default_transaction_read_only = %q (%v)", ro, err)
	}
	b, err := os.ReadFile(p.state.HandoverFile())
	if err != nil {
		return "", err
	}
	var st struct{ LSN string }
	if err := json.Unmarshal(b, &st); err != nil {
		return "", err
	}
	fn := p.facts.PG.Functions
	err = cl.parallel(cl.secondary, func(n *node) error {
		var ok bool
		err := n.query(ctx, fmt.Sprintf("SELECT coalesce(%s(%s(), %s) >= 0, false)", fn.LSNDiff, fn.LastReplay, pg.Literal(st.LSN)), &ok)
		if err == nil && !ok {
			err = fmt.Errorf("replayed less than the handover's %s", st.LSN)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	// No secondary may connect again: the replication line is gone.
	time.Sleep(time.Second)
	var senders int
	if err := p.query(ctx, "SELECT count(*) FROM pg_stat_replication", &senders); err != nil {
		return "", err
	}
	if senders != 0 {
		return "", fmt.Errorf("%d walsenders still run after handover", senders)
	}
	return "read-only, every secondary replayed " + st.LSN + ", no walsender", nil
}

// promote: the database part of xroad-node promote on the first secondary:
// the profile's promote command as its user, the primary's settings and
// access, a restart, the roles of the nodes that will follow.
func (cl *ssCluster) promote(ctx context.Context) (string, error) {
	s := cl.secondary[0]
	promoted, err := s.doc.Promoted()
	if err != nil {
		return "", err
	}
	plan := securityserver.PromotePlan(s.ss(promoted, 0))
	if err := s.converge(ctx, plan, "promote", "replication", "local-access", "serverconf-restart", "roles", "members"); err != nil {
		return "", fmt.Errorf("%w\n%s", err, s.srv.logTail())
	}
	var in bool
	if err := s.query(ctx, "SELECT pg_is_in_recovery()", &in); err != nil || in {
		return "", fmt.Errorf("still in recovery (%v)", err)
	}
	if err := s.exec(ctx, "CREATE TABLE pgmatrix_promoted (x int)"); err != nil {
		return "", fmt.Errorf("the promoted node takes no write: %w", err)
	}
	s.doc = promoted
	cl.primary.srv.stop(ctx) // the old primary is replaced
	st := s.facts.PG.Standby
	return fmt.Sprintf("%s as %s", strings.Join(cl.c.facts.PG.Standby.PromoteCommand, " "), st.PromoteAs), nil
}

// repoint: xroad-node repoint's database part on every other secondary;
// a reload or a restart as the profile says; WAL must then stream from the
// promoted node, across its new timeline.
func (cl *ssCluster) repoint(ctx context.Context) (string, error) {
	p := cl.secondary[0]
	others := cl.secondary[1:]
	st := cl.c.facts.PG.Standby
	reload := st.ConninfoReload && st.Method == profiles.StandbySignal
	err := cl.parallel(others, func(n *node) error {
		next, err := n.doc.Repointed(p.addr)
		if err != nil {
			return err
		}
		before := n.postmasterPID()
		if err := n.converge(ctx, securityserver.RepointPlan(n.ss(next, p.srv.port)), "standby", "follow"); err != nil {
			return fmt.Errorf("%w\n%s", err, n.srv.logTail())
		}
		if same := n.postmasterPID() == before; same != reload {
			return fmt.Errorf("postmaster restarted: %v, the profile says conninfoReload %v", !same, st.ConninfoReload)
		}
		n.doc = next
		return nil
	})
	if err != nil {
		return "", err
	}
	if err := p.exec(ctx, "INSERT INTO pgmatrix_promoted VALUES (1)"); err != nil {
		return "", err
	}
	err = cl.parallel(others, func(n *node) error {
		var out bytes.Buffer
		if err := n.ops(n.doc, &out).ReplayWait(ctx, 30*time.Second); err != nil {
			return err
		}
		return waitFor(ctx, 30*time.Second, "the promoted node's write", func() (bool, error) {
			var rows int
			err := n.query(ctx, "SELECT count(*) FROM pgmatrix_promoted", &rows)
			return rows == 1, err
		})
	})
	if err != nil {
		return "", err
	}
	streaming, err := pg.Streaming(ctx, p.srv.port)
	if err != nil {
		return "", err
	}
	for _, n := range others {
		if !streaming[n.name] {
			return "", fmt.Errorf("%s does not stream from %s", n.name, p.name)
		}
	}
	verb := "restart"
	if reload {
		verb = "reload"
	}
	return fmt.Sprintf("%d secondaries follow %s after a %s", len(others), p.name, verb), nil
}

// forget: xroad-node forget's database part on the promoted primary, for a
// secondary that is gone: its role is dropped, the WAL retention shrinks
// with a reload, and the member record, which every secondary replays,
// lists the others only.
func (cl *ssCluster) forget(ctx context.Context) (string, error) {
	p := cl.secondary[0]
	others := cl.secondary[1:]
	gone, stay := others[len(others)-1], others[:len(others)-1]
	if err := gone.srv.stop(ctx); err != nil {
		return "", err
	}
	next, err := p.doc.Forgotten(gone.name)
	if err != nil {
		return "", err
	}
	before, err := p.walRetention(ctx)
	if err != nil {
		return "", err
	}
	if err := p.converge(ctx, securityserver.ForgetPlan(p.ss(next, 0)), "replication", "serverconf-reload", "former-roles", "members"); err != nil {
		return "", fmt.Errorf("%w\n%s", err, p.srv.logTail())
	}
	p.doc = next
	var roles int
	if err := p.query(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = "+pg.Literal(gone.name), &roles); err != nil || roles != 0 {
		return "", fmt.Errorf("%s's role remains (%d, %v)", gone.name, roles, err)
	}
	after, err := p.walRetention(ctx)
	if err != nil {
		return "", err
	}
	if after == before {
		return "", fmt.Errorf("%s stayed %s with one secondary fewer", p.facts.PG.WalRetentionKey, before)
	}
	var want []string
	for _, m := range next.Secondaries {
		want = append(want, m.Name)
	}
	sort.Strings(want)
	err = cl.parallel(append([]*node{p}, stay...), func(n *node) error {
		return waitFor(ctx, 30*time.Second, "the member record without "+gone.name, func() (bool, error) {
			recorded, err := securityserver.ReplicatedMembers(ctx, n.srv.port)
			var got []string
			for _, m := range recorded {
				got = append(got, m.Name)
			}
			return slices.Equal(got, want), err
		})
	})
	if err != nil {
		return "", err
	}
	cl.secondary = append([]*node{p}, stay...)
	return fmt.Sprintf("%s forgotten: role dropped, %s %s → %s, the record of %d members replayed on every secondary",
		gone.name, p.facts.PG.WalRetentionKey, before, after, len(want)), nil
}

// walRetention is the WAL retention setting with its unit ("28", "448MB").
func (n *node) walRetention(ctx context.Context) (string, error) {
	var v string
	err := n.query(ctx, "SELECT setting || coalesce(unit, '') FROM pg_settings WHERE name = "+pg.Literal(n.facts.PG.WalRetentionKey), &v)
	return v, err
}
