package securityserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"xroad-appliance/provisioner/confedit"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/steps"
	"xroad-appliance/provisioner/syncserve"
	"xroad-appliance/provisioner/system"
	"xroad-appliance/provisioner/xroadsetup"
	"xroad-appliance/units"
)

// primarySettings are guide 4.3's postgresql.conf settings for the primary.
func (n *Node) primarySettings() string {
	p := n.Facts.PG
	return strings.Join(append(n.tls().Settings(),
		"listen_addresses = '*'",
		"wal_level = "+p.WalLevel,
		fmt.Sprintf("max_wal_senders = %d", walSenders),
		p.WalRetentionKey+" = "+confedit.PGString(p.WalRetention(len(n.Doc.Secondaries))),
		"password_encryption = "+confedit.PGString(p.PasswordEncryptionValue()),
	), "\n")
}

// walSenders is max_wal_senders on every node of the cluster. Guide 4.3
// asks for about the number of secondaries plus a small number, but a
// secondary's first base backup (-X stream) takes two walsenders, and all
// of them may take theirs at once; two spare let a replaced secondary
// connect while its old walsender is still timing out. A standby must hold
// at least its primary's value (PostgreSQL 12 and later refuse hot standby
// below it), so the value is the same on every node whatever its document
// lists: sized for the largest cluster, it stays right when a secondary is
// added and after a promote. An unused walsender slot costs a few
// kilobytes of shared memory.
const walSenders = 2*metadata.MaxSecondaries + 2

func (n *Node) primaryReplicationSettings() engine.Phase {
	return steps.Edits("replication", "primary replication settings in postgresql.conf", []steps.Edit{{
		Path: n.pgConf(), Describe: n.primarySettings() + "\n",
		Fn: func(b []byte) []byte { return confedit.SetBlock(b, n.primarySettings(), confedit.Append) },
	}}, nil)
}

// roles creates guide 4.3's roles: slavenode NOLOGIN, one replication user per
// secondary named by its certificate CN, and the serverconf user. Passwords
// are sent as verifiers with statement logging off.
func (n *Node) roles() engine.Phase {
	port := n.Facts.PG.Serverconf.Port
	var names []string
	for _, s := range n.Doc.Secondaries {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	actions := []string{"CREATE ROLE slavenode NOLOGIN"}
	for _, name := range names {
		actions = append(actions, "CREATE USER "+pg.Ident(name)+" REPLICATION PASSWORD NULL IN ROLE slavenode")
	}
	actions = append(actions, "CREATE USER serverconf PASSWORD '<verifier of the cluster's serverconf password>'")
	return engine.Phase{
		Name: "roles", Summary: "replication and serverconf roles", Actions: actions,
		Check: func(ctx context.Context) (bool, error) {
			conn, err := pg.Local(ctx, port, "postgres")
			if err != nil {
				return false, err
			}
			defer conn.Close(ctx)
			for _, r := range append([]string{"slavenode", "serverconf"}, names...) {
				if ok, err := pg.RoleExists(ctx, conn, r); err != nil || !ok {
					return false, err
				}
			}
			// The password is right when it logs in.
			return pg.PasswordWorks(ctx, port, "serverconf", n.Doc.ServerconfPassword, "postgres"), nil
		},
		Apply: func(ctx context.Context) error {
			conn, err := pg.Local(ctx, port, "postgres")
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			stmts := []string{}
			if ok, err := pg.RoleExists(ctx, conn, "slavenode"); err != nil {
				return err
			} else if !ok {
				stmts = append(stmts, "CREATE ROLE slavenode NOLOGIN")
			}
			for _, name := range names {
				if ok, err := pg.RoleExists(ctx, conn, name); err != nil {
					return err
				} else if !ok {
					stmts = append(stmts, "CREATE USER "+pg.Ident(name)+" REPLICATION PASSWORD NULL IN ROLE slavenode")
				}
			}
			verifier, err := pg.Verifier(n.Facts.PG.PasswordEncryption, "serverconf", n.Doc.ServerconfPassword)
			if err != nil {
				return err
			}
			verb := "CREATE USER"
			if ok, err := pg.RoleExists(ctx, conn, "serverconf"); err != nil {
				return err
			} else if ok {
				verb = "ALTER USER"
			}
			stmts = append(stmts, verb+" serverconf PASSWORD "+pg.Literal(verifier))
			for _, s := range stmts {
				if _, err := conn.Exec(ctx, s); err != nil {
					// The statement may hold a verifier: name the role, not the text.
					return fmt.Errorf("role statement %q failed: %w", strings.SplitN(s, " PASSWORD", 2)[0], err)
				}
			}
			return nil
		},
	}
}

// serverconfDatabase copies serverconf from the default instance and renames
// the old one (guide 4.3). Where the default instance has none, as in an
// image built without database setup, the package's setup script makes it
// on the serverconf instance.
func (n *Node) serverconfDatabase() engine.Phase {
	sc, def := n.Facts.PG.Serverconf, n.Facts.PG.Default
	return engine.Phase{
		Name: "serverconf-database", Summary: "serverconf database moved to the serverconf instance",
		Actions: []string{
			fmt.Sprintf("pg_dump -p %d -C serverconf | psql -p %d -f - (as postgres)", def.Port, sc.Port),
			fmt.Sprintf("psql -p %d -c \"ALTER DATABASE serverconf RENAME TO serverconf_old\"", def.Port),
		},
		Check: func(ctx context.Context) (bool, error) {
			conn, err := pg.Local(ctx, sc.Port, "postgres")
			if err != nil {
				return false, err
			}
			defer conn.Close(ctx)
			return pg.DatabaseExists(ctx, conn, "serverconf")
		},
		Apply: func(ctx context.Context) error {
			// The default instance is only read from and renamed in, as the
			// postgres OS user: its access stays as the packages made it.
			hasOld, err := pg.PSQL(ctx, def.Port, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'serverconf'")
			if err != nil {
				return fmt.Errorf("default instance on port %d: %w", def.Port, err)
			}
			if hasOld == "0" {
				// An image built with XROAD_IGNORE_DATABASE_SETUP: the
				// package's own setup makes it, here, with db.properties'
				// user and password.
				return xroadsetup.Database(n.Facts.XRoad.Setup, "serverconf", sc.Port).Apply(ctx)
			}
			dump, err := system.Run(ctx, system.Cmd{User: "postgres", Args: []string{"pg_dump", "-h", pg.SocketDir, "-p", fmt.Sprint(def.Port), "-C", "serverconf"}})
			if err != nil {
				return err
			}
			if _, err := system.Run(ctx, system.Cmd{User: "postgres", Stdin: strings.NewReader(string(dump)),
				Args: []string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.SocketDir, "-p", fmt.Sprint(sc.Port), "-d", "postgres", "-f", "-"}}); err != nil {
				return err
			}
			_, err = pg.PSQL(ctx, def.Port, "postgres", "ALTER DATABASE serverconf RENAME TO serverconf_old")
			return err
		},
	}
}

// syncUser makes the xroad-slave account the secondaries rsync /etc/xroad as
// (guide 5.1): authorized_keys owned by root and not writable by xroad-slave,
// each key forced to a read-only rsync of /etc/xroad that names the member,
// and the seen directory, the one place xroad-slave writes, where that
// forced command records each member's last sync for status.
func (n *Node) syncUser() engine.Phase {
	u := n.Facts.SyncUser
	seen := u.Home + "/" + syncserve.SeenDir
	var keys strings.Builder
	var bad []error
	for _, s := range n.Doc.Secondaries {
		line, err := syncserve.AuthorizedKey(units.NodeBinary, s.Name, s.SSHPublicKey)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		keys.WriteString(line + "\n")
	}
	// A validated document never gets here with a bad name; a line that
	// would put another word into the forced command is still not written.
	refused := errors.Join(bad...)
	files := []engine.File{{Path: u.Home + "/.ssh/authorized_keys", Mode: 0o644, Owner: "root:root", Content: []byte(keys.String())}}
	p := steps.Files("sync-user", u.Name+" account for read-only rsync of /etc/xroad", files, nil)
	check, apply := p.Check, p.Apply
	p.Actions = []string{strings.Join(u.Command, " "), "mkdir -m 755 -p " + u.Home + "/.ssh (root-owned)",
		"mkdir -m 700 " + seen + " (owned by " + u.Name + ": serve-sync records each secondary's last sync there)"}
	p.Check = func(ctx context.Context) (bool, error) {
		if refused != nil {
			return false, refused
		}
		if !system.UserExists(u.Name) {
			return false, nil
		}
		if ok, err := system.DirIs(seen, 0o700, u.Name); err != nil || !ok {
			return false, err
		}
		return check(ctx)
	}
	p.Apply = func(ctx context.Context) error {
		if refused != nil {
			return refused
		}
		if !system.UserExists(u.Name) {
			if _, err := system.Run(ctx, system.Cmd{Args: u.Command}); err != nil {
				return err
			}
		}
		if err := system.MkdirOwned(u.Home+"/.ssh", 0o755, "root:root"); err != nil {
			return err
		}
		// xroad-slave owns its home: whatever else is found at seen is left
		// for a person, and never followed by the chown.
		if st, err := os.Lstat(seen); err == nil && !st.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", seen)
		}
		if err := system.MkdirOwned(seen, 0o700, u.Name); err != nil {
			return err
		}
		return apply(ctx)
	}
	return p
}

// hostKey installs the node's pre-generated SSH host key, the one the other
// nodes pin while it is the primary, and restarts sshd to serve it.
func (n *Node) hostKey() engine.Phase {
	path := n.Facts.SSH.HostKeyFile
	files := []engine.File{
		{Path: path, Mode: 0o600, Owner: "root:root", Content: []byte(n.Doc.SSH.HostKey), Secret: true},
		{Path: path + ".pub", Mode: 0o644, Owner: "root:root", Content: []byte(strings.TrimSpace(n.Doc.OwnHostKey()) + "\n")},
	}
	return steps.Files("ssh-host-key", "the pinned SSH host key served by sshd", files, func(ctx context.Context) error {
		return n.Systemd.Restart(ctx, n.Facts.SSH.ServerUnit)
	})
}

// localINI sets guide 3.2 step 8 and 3.4 on the primary; local.ini reaches the
// secondaries through the sync.
func (n *Node) localINI() engine.Phase {
	o := n.Doc.Options
	set := [][3]string{
		{"proxy", "server-support-clients-pooled-connections", fmt.Sprint(o.PooledConnections)},
		{"proxy", "health-check-interface", o.HealthCheckInterface},
		{"proxy", "health-check-port", fmt.Sprint(o.HealthCheckPort)},
	}
	var desc strings.Builder
	for _, s := range set {
		fmt.Fprintf(&desc, "[%s] %s=%s\n", s[0], s[1], s[2])
	}
	return steps.Edits("local-ini", "pooled connections and health check in local.ini", []steps.Edit{{
		Path: LocalINI, Describe: desc.String(), Create: "xroad:xroad", CreateMode: 0o644,
		Fn: func(b []byte) []byte {
			for _, s := range set {
				b = confedit.SetINI(b, s[0], s[1], s[2])
			}
			return b
		},
	}}, nil)
}

// verifyPrimary waits until every secondary streams (guide 6.2), named by
// its application_name.
func (n *Node) verifyPrimary() engine.Phase {
	var names []string
	for _, s := range n.Doc.Secondaries {
		names = append(names, s.Name)
	}
	return steps.FollowersStreaming(n.Facts.PG.Serverconf.Port, names, "secondary", "secondaries", n.FollowersWait)
}
