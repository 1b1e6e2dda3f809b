package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/system"
)

// node is one cluster member on this host: its own root for every path the
// profile names, its own port, its own certificate.
type node struct {
	name, addr string
	doc        *metadata.Document
	facts      *profiles.Facts
	root       string
	state      *nodestate.State
	tls        pg.TLSFiles
	srv        *server
	log        *slog.Logger
}

// rewrite is the profile's facts for a node whose paths live under root and
// whose instance listens on port: only paths, the port and the binaries'
// directory change. Debian's pg_ctlcluster reads its clusters from
// PG_CLUSTER_CONF_ROOT, so its promote command is given the node's.
func rewrite(base *profiles.Facts, root string, port int) *profiles.Facts {
	f := *base
	p := &f.PG
	p.BinDir = fmt.Sprintf("%s/%d/bin", binRoot, base.PG.Major)
	for _, in := range []*profiles.Instance{&p.Default, &p.Serverconf.Instance} {
		in.DataDir, in.ConfigDir = root+in.DataDir, root+in.ConfigDir
	}
	p.Serverconf.Port = port
	p.Default.Port = port
	if p.Standby.TriggerFile != "" {
		p.Standby.TriggerFile = root + p.Standby.TriggerFile
	}
	var cmd []string
	for _, a := range base.PG.Standby.PromoteCommand {
		switch {
		case a == base.PG.Serverconf.DataDir:
			a = p.Serverconf.DataDir
		case strings.HasPrefix(a, base.PG.BinDir+"/"):
			a = p.BinDir + strings.TrimPrefix(a, base.PG.BinDir)
		}
		cmd = append(cmd, a)
	}
	if len(cmd) > 0 && cmd[0] == "pg_ctlcluster" {
		cmd = append([]string{"env", "PG_CLUSTER_CONF_ROOT=" + filepath.Dir(filepath.Dir(p.Serverconf.ConfigDir))}, cmd...)
	}
	p.Standby.PromoteCommand = cmd
	return &f
}

// newNode lays out a node's root: TLS files from its kit document, the
// state directory, the parents of its data directory, its server.
func newNode(ctx context.Context, dir string, doc *metadata.Document, addr string, base *profiles.Facts, instance func(*profiles.Facts) profiles.Instance) (*node, error) {
	root := filepath.Join(dir, doc.Node)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	f := rewrite(base, root, port)
	n := &node{name: doc.Node, addr: addr, doc: doc, facts: f, root: root, state: nodestate.Open(root),
		tls: pg.TLSIn(filepath.Join(root, "etc/xroad/postgresql"))}
	in := instance(f)
	for _, d := range []string{n.state.Dir(), filepath.Dir(n.tls.CA), filepath.Dir(in.DataDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if f.PG.Standby.TriggerFile != "" {
		os.MkdirAll(filepath.Dir(f.PG.Standby.TriggerFile), 0o755)
	}
	for path, content := range map[string]string{n.tls.CA: doc.TLS.CA, n.tls.Cert: doc.TLS.Cert, n.tls.Key: doc.TLS.Key} {
		if err := system.WriteFile(path, []byte(content), 0o400, "postgres:root"); err != nil {
			return nil, err
		}
	}
	logDir := filepath.Join(root, "log")
	if err := system.MkdirOwned(logDir, 0o755, "postgres:postgres"); err != nil {
		return nil, err
	}
	lf, err := os.Create(filepath.Join(root, "provisioner.log"))
	if err != nil {
		return nil, err
	}
	n.log = slog.New(slog.NewTextHandler(lf, nil))
	n.srv = &server{unit: in.Unit + ".service", binDir: f.PG.BinDir, dataDir: in.DataDir, confDir: in.ConfigDir, port: port,
		log: filepath.Join(logDir, "postgresql.log")}
	return n, nil
}

// createInstance makes the node's empty instance as the profile's create
// command would: a fresh cluster (a copy of the major's initdb template)
// with its configuration in the profile's configuration directory. Where
// that is not the data directory (pg_createcluster), the configuration
// names the data directory and stays when a base backup replaces the data.
func (n *node) createInstance(template string, withData bool, sc profiles.Instance) error {
	if withData {
		if err := copyTree(template, sc.DataDir); err != nil {
			return err
		}
	}
	if sc.ConfigDir == sc.DataDir {
		return nil
	}
	if err := system.MkdirOwned(sc.ConfigDir, 0o755, "postgres:postgres"); err != nil {
		return err
	}
	for _, f := range []string{"postgresql.conf", "pg_hba.conf", "pg_ident.conf"} {
		b, err := os.ReadFile(filepath.Join(template, f))
		if err != nil {
			return err
		}
		if f == "postgresql.conf" {
			b = append(b, fmt.Sprintf("\ndata_directory = '%s'\nhba_file = '%s/pg_hba.conf'\nident_file = '%s/pg_ident.conf'\nport = %d\n",
				sc.DataDir, sc.ConfigDir, sc.ConfigDir, sc.Port)...)
		}
		if err := system.WriteFile(filepath.Join(sc.ConfigDir, f), b, 0o644, "postgres:postgres"); err != nil {
			return err
		}
		if withData {
			os.Remove(filepath.Join(sc.DataDir, f))
		}
	}
	return nil
}

// converge runs the named phases of plan, in plan's order, as the
// provisioner does: each checked, applied when not in place, checked again.
func (n *node) converge(ctx context.Context, plan []engine.Phase, names ...string) error {
	var picked []engine.Phase
	for _, want := range names {
		found := false
		for _, p := range plan {
			if p.Name == want {
				picked, found = append(picked, p), true
				break
			}
		}
		if !found {
			return fmt.Errorf("the plan has no phase %q", want)
		}
	}
	return engine.Converge(ctx, picked, n.log)
}

// conn is the provisioner's own local connection (pg_ident map, socket).
func (n *node) conn(ctx context.Context) (*pgx.Conn, error) {
	return pg.Local(ctx, n.srv.port, "postgres")
}

func (n *node) query(ctx context.Context, q string, dest ...any) error {
	c, err := n.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return c.QueryRow(ctx, q).Scan(dest...)
}

func (n *node) exec(ctx context.Context, q string) error {
	c, err := n.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, q)
	return err
}

func (n *node) show(ctx context.Context, setting string) (string, error) {
	var v string
	err := n.query(ctx, "SELECT current_setting("+pg.Literal(setting)+")", &v)
	return v, err
}

// postmasterPID is the running postmaster's pid (a restart changes it).
func (n *node) postmasterPID() int { pid, _ := pg.LivePostmaster(n.srv.dataDir); return pid }

// waitFor polls cond until it holds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s: not within %s: %w", what, timeout, err)
			}
			return fmt.Errorf("%s: not within %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
