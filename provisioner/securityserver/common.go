package securityserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/confedit"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/steps"
	"xroad-appliance/provisioner/system"
)

// stopServices stops the X-Road services (guide 3.2/3.3 step 2). On a first
// boot they are not running yet: they are ordered after the provisioner.
func (n *Node) stopServices() engine.Phase {
	return engine.Phase{
		Name: "stop-services", Summary: "X-Road services stopped while the node is reconfigured",
		Actions: []string{"systemctl stop " + strings.Join(n.Facts.XRoad.Services, " ")},
		Check: func(ctx context.Context) (bool, error) {
			for _, s := range n.Facts.XRoad.Services {
				st, err := n.Systemd.ActiveState(ctx, s+".service")
				if err != nil {
					return false, err
				}
				if st == "active" || st == "activating" || st == "reloading" {
					return false, nil
				}
			}
			return true, nil
		},
		Apply: func(ctx context.Context) error {
			for _, s := range n.Facts.XRoad.Services {
				if err := n.Systemd.Stop(ctx, s+".service"); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// tlsFiles installs the node's PostgreSQL certificate material (guide 4.1 step 3).
func (n *Node) tlsFiles() engine.Phase {
	owner := "postgres:root" // guide: chown postgres, chmod 400
	tls := n.tls()
	files := []engine.File{
		{Path: tls.CA, Mode: 0o400, Owner: owner, Content: []byte(n.Doc.TLS.CA)},
		{Path: tls.Cert, Mode: 0o400, Owner: owner, Content: []byte(n.Doc.TLS.Cert)},
		{Path: tls.Key, Mode: 0o400, Owner: owner, Content: []byte(n.Doc.TLS.Key), Secret: true},
	}
	p := steps.Files("tls", "PostgreSQL TLS certificate and key in "+TLSDir, files, nil)
	apply := p.Apply
	p.Apply = func(ctx context.Context) error {
		// mkdir -p -m 0755 /etc/xroad/postgresql; chmod o+x /etc/xroad
		if err := system.MkdirOwned(TLSDir, 0o755, "root:root"); err != nil {
			return err
		}
		st, err := os.Stat(XRoadDir)
		if err != nil {
			return err
		}
		if err := os.Chmod(XRoadDir, st.Mode().Perm()|0o001); err != nil {
			return err
		}
		return apply(ctx)
	}
	p.Actions = []string{"mkdir -p -m 0755 " + TLSDir, "chmod o+x " + XRoadDir}
	return p
}

// serverconfInstance creates the separate serverconf instance (guide 4.2) the
// way the profile says: pg_createcluster, or the baked unit plus initdb.
func (n *Node) serverconfInstance() engine.Phase {
	sc := n.Facts.PG.Serverconf
	args, env := createCommand(sc)
	actions := []string{strings.TrimSpace(strings.Join(env, " ")+" "+strings.Join(args, " ")) + " (as " + sc.RunAs + ")"}
	if sc.CreateNoSync != nil {
		actions = append(actions, "sync the file systems of "+sc.DataDir+" and "+sc.ConfigDir)
	}
	for _, c := range n.Facts.SELinux.Commands {
		actions = append(actions, strings.Join(c.Run, " "))
	}
	if sc.Method != profiles.CreateCluster {
		actions = append(actions, "systemctl enable "+n.serverconfUnit())
	}
	return engine.Phase{
		Name: "serverconf-instance", Summary: "separate PostgreSQL instance for serverconf on port " + fmt.Sprint(sc.Port),
		Actions: actions,
		// Done only once the instance is recorded, which is its last step:
		// a run killed after initdb resumes here rather than skipping the
		// unit, SELinux and record steps.
		Check: func(context.Context) (bool, error) {
			for _, p := range []string{sc.DataDir + "/PG_VERSION", n.pgConf(), n.State.ServerconfCreated()} {
				if _, err := os.Stat(p); os.IsNotExist(err) {
					return false, nil
				} else if err != nil {
					return false, err
				}
			}
			return true, nil
		},
		Apply: func(ctx context.Context) error {
			if err := n.createInstance(ctx); err != nil {
				return err
			}
			for _, c := range n.Facts.SELinux.Commands {
				if err := runSELinux(ctx, c); err != nil {
					return err
				}
			}
			if err := n.Systemd.DaemonReload(ctx); err != nil {
				return err
			}
			if sc.Method != profiles.CreateCluster { // Debian's generator starts postgresql@ instances
				if err := n.Systemd.Enable(ctx, n.serverconfUnit()); err != nil {
					return err
				}
			}
			if err := n.recordCreated(ctx); err != nil {
				return err
			}
			return ignoreNotExist(os.Remove(n.State.ServerconfCreating()))
		},
	}
}

// runSELinux runs one of the guide's SELinux commands, or its alternative
// when it refuses to repeat itself.
func runSELinux(ctx context.Context, c profiles.SELinuxCommand) error {
	_, err := system.Run(ctx, system.Cmd{Args: c.Run})
	if err == nil || len(c.OrElse) == 0 {
		return err
	}
	if _, elseErr := system.Run(ctx, system.Cmd{Args: c.OrElse}); elseErr != nil {
		return errors.Join(err, elseErr)
	}
	return nil
}

// createInstance runs the profile's create command on an empty data
// directory, or adopts the cluster a killed run of this node made there.
// Anything else in the directory is refused, never overwritten.
func (n *Node) createInstance(ctx context.Context) error {
	sc := n.Facts.PG.Serverconf
	_, err := os.Stat(sc.DataDir + "/PG_VERSION")
	switch {
	case err == nil:
		if _, merr := os.Stat(n.State.ServerconfCreating()); merr != nil {
			return fmt.Errorf("%s holds a cluster this node did not create: refusing to take it over", sc.DataDir)
		}
		return nil // this node's own, made by a run that was killed
	case !os.IsNotExist(err):
		return err
	}
	entries, err := os.ReadDir(sc.DataDir)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty and holds no cluster: refusing to initialise over it", sc.DataDir)
	}
	if err := n.State.Write(n.State.ServerconfCreating(), nil); err != nil {
		return err
	}
	args, env := createCommand(sc)
	if _, err := system.Run(ctx, system.Cmd{Args: args, Env: env, User: steps.RunAs(sc.RunAs)}); err != nil {
		return err
	}
	if sc.CreateNoSync == nil {
		return nil
	}
	// initdb left its files unsynced: one sync of the file systems holding
	// the data and the configuration makes them as durable.
	return system.SyncFS(sc.DataDir, sc.ConfigDir)
}

// createCommand is the profile's create command and its environment, with
// initdb's --no-sync where the profile says how to pass it.
func createCommand(sc profiles.Serverconf) ([]string, []string) {
	args := append([]string{}, sc.CreateCommand...)
	vars := map[string]string{}
	for k, v := range sc.CreateEnv {
		vars[k] = v
	}
	if ns := sc.CreateNoSync; ns != nil {
		args = append(args, ns.Args...)
		for k, v := range ns.Env {
			vars[k] = strings.TrimSpace(vars[k] + " " + v)
		}
	}
	env := []string{}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return args, env
}

// localAccess lets the provisioner (root) and postgres reach the instance
// over the Unix socket as postgres, through a pg_ident map.
func (n *Node) localAccess() engine.Phase {
	return steps.Edits("local-access", "root and postgres map to the postgres role on the local socket", []steps.Edit{
		{Path: n.pgIdent(), Describe: pg.IdentLines, Fn: func(b []byte) []byte {
			return confedit.SetBlock(b, pg.IdentLines, confedit.Append)
		}},
		{Path: n.pgHBA(), Describe: n.hbaBlock(), Fn: func(b []byte) []byte {
			return confedit.SetBlock(b, n.hbaBlock(), confedit.Prepend)
		}},
	}, nil)
}

func (n *Node) hbaBlock() string {
	if n.Doc.Role == "primary" {
		// guide 4.3: certificate authentication of the secondaries' replication users
		return pg.HBALocal + "\nhostssl     replication     +slavenode  samenet     cert"
	}
	return pg.HBALocal
}

func (n *Node) startServerconf() engine.Phase {
	return engine.Phase{
		Name: "serverconf-start", Summary: "serverconf instance running",
		Actions: []string{"systemctl restart " + n.serverconfUnit()},
		Check: func(ctx context.Context) (bool, error) {
			st, err := n.Systemd.ActiveState(ctx, n.serverconfUnit())
			if err != nil || st != "active" {
				return false, err
			}
			// Settings written since the last start must be in effect.
			return n.settingsApplied(ctx)
		},
		Apply: func(ctx context.Context) error {
			return pg.Restart(ctx, n.Systemd, n.serverconfUnit(), n.Facts.PG.Serverconf.Port)
		},
	}
}

// settingsApplied asks the server whether any setting waits for a restart.
func (n *Node) settingsApplied(ctx context.Context) (bool, error) {
	conn, err := pg.Local(ctx, n.Facts.PG.Serverconf.Port, "postgres")
	if err != nil {
		return false, nil
	}
	defer conn.Close(ctx)
	if _, lacks := n.Facts.PG.Lacks[profiles.FeaturePendingRestart]; lacks {
		// Without pending_restart the settings are in effect when the
		// server started after postgresql.conf last changed.
		st, err := os.Stat(n.pgConf())
		if err != nil {
			return false, err
		}
		var started time.Time
		err = conn.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&started)
		return err == nil && started.After(st.ModTime()), err
	}
	var pending int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM pg_settings WHERE pending_restart").Scan(&pending)
	return err == nil && pending == 0, err
}

// dbProperties points serverconf at the separate instance (guide 3.2 step 4,
// 3.3 step 4) with the cluster's serverconf password. An image keeps no
// db.properties (each node's passwords are its own), so the file and the
// URL are made where missing.
func (n *Node) dbProperties() engine.Phase {
	const prefix = "serverconf.hibernate.connection."
	port := fmt.Sprint(n.Facts.PG.Serverconf.Port)
	fn := func(b []byte) []byte {
		if url, ok := confedit.GetProperty(b, prefix+"url"); ok {
			b = confedit.SetProperty(b, prefix+"url", repointPort(url, port))
		} else {
			b = confedit.SetProperty(b, prefix+"url", "jdbc:postgresql://127.0.0.1:"+port+"/serverconf")
		}
		if _, ok := confedit.GetProperty(b, prefix+"username"); !ok {
			b = confedit.SetProperty(b, prefix+"username", "serverconf")
		}
		return confedit.SetProperty(b, prefix+"password", n.Doc.ServerconfPassword)
	}
	return steps.Edits("db-properties", "db.properties uses the serverconf instance on port "+port, []steps.Edit{{
		Path: DBProperties, Fn: fn, Create: "xroad:xroad", CreateMode: 0o640,
		Describe: prefix + "url port -> " + port + "\n" + prefix + "password = <the cluster's serverconf password>\n",
	}}, nil)
}

// repointPort changes the port of a jdbc:postgresql://host:port/db URL.
func repointPort(url, port string) string {
	const scheme = "jdbc:postgresql://"
	rest, ok := strings.CutPrefix(url, scheme)
	if !ok {
		return url
	}
	hostport, path, _ := strings.Cut(rest, "/")
	host := hostport
	if i := strings.LastIndex(hostport, ":"); i >= 0 && !strings.HasSuffix(hostport, "]") {
		host = hostport[:i]
	}
	return scheme + host + ":" + port + "/" + path
}

// nodeINI writes node.ini (guide 3.2 step 7, 3.3 step 7).
func (n *Node) nodeINI(kind string) engine.Phase {
	return steps.Files("node-ini", "node type "+kind, []engine.File{
		{Path: NodeINI, Mode: 0o644, Owner: "xroad:xroad", Content: []byte("[node]\ntype=" + kind + "\n")},
	}, nil)
}

// startServices enqueues the X-Road services.
func (n *Node) startServices() engine.Phase {
	return steps.StartServices("services", "X-Road services started", n.Systemd, n.Facts.XRoad.Services)
}

func ignoreNotExist(err error) error {
	if os.IsNotExist(err) {
		return nil
	}
	return err
}
