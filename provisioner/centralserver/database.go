package centralserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/confedit"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/retry"
	"xroad-appliance/provisioner/steps"
	"xroad-appliance/provisioner/system"
)

// tlsFiles installs the node's certificate material for ssl = on.
func (n *Node) tlsFiles() engine.Phase {
	owner := "postgres:root"
	p := steps.Files("tls", "PostgreSQL TLS certificate and key in "+TLSDir, []engine.File{
		{Path: n.tls().CA, Mode: 0o400, Owner: owner, Content: []byte(n.Doc.TLS.CA)},
		{Path: n.tls().Cert, Mode: 0o400, Owner: owner, Content: []byte(n.Doc.TLS.Cert)},
		{Path: n.tls().Key, Mode: 0o400, Owner: owner, Content: []byte(n.Doc.TLS.Key), Secret: true},
	}, nil)
	p.Apply = steps.Chain(func(context.Context) error {
		if err := n.checkPlatform(); err != nil {
			return err
		}
		return system.MkdirOwned(TLSDir, 0o755, "root:root")
	}, p.Apply)
	return p
}

// hbaBlock is Appendix A's replication line, the central servers' access to
// their database, and the provisioner's own local access. Every database
// node has them: a standby serves them once promoted.
func (n *Node) hbaBlock() string {
	db := n.db()
	return strings.Join([]string{
		pg.HBALocal,
		"hostssl   replication   " + db.ReplicationUser + "   samenet   scram-sha-256",
		"hostssl   " + db.Name + "   all   samenet   scram-sha-256",
	}, "\n")
}

func (n *Node) access() engine.Phase {
	return steps.Edits("access", "replication, central server and local access in pg_hba.conf", []steps.Edit{
		{Path: n.pgIdent(), Describe: pg.IdentLines, Fn: func(b []byte) []byte {
			return confedit.SetBlock(b, pg.IdentLines, confedit.Append)
		}},
		{Path: n.pgHBA(), Describe: n.hbaBlock(), Fn: func(b []byte) []byte {
			return confedit.SetBlock(b, n.hbaBlock(), confedit.Prepend)
		}},
	}, nil)
}

// settingLines are Appendix A's postgresql.conf settings for every database
// server, with the node's certificate files.
func (n *Node) settingLines() []string {
	return append(append([]string{"password_encryption = 'scram-sha-256'"}, n.tls().Settings()...),
		"listen_addresses = '*'",
		"wal_level = replica",
		"max_wal_senders = 10",
		"max_replication_slots = 10",
		"hot_standby = on",
	)
}

// settings writes the settings, plus extra (a standby's recovery settings).
func (n *Node) settings(extra []string) engine.Phase {
	body := strings.Join(append(n.settingLines(), extra...), "\n")
	return steps.Edits("settings", "Appendix A settings in postgresql.conf", []steps.Edit{{
		Path: n.pgConf(), Describe: body + "\n",
		Fn: func(b []byte) []byte { return confedit.SetBlock(b, body, confedit.Append) },
	}}, nil)
}

// restart makes the settings take effect; the server says when they have.
func (n *Node) restart() engine.Phase {
	port := n.instance().Port
	return engine.Phase{
		Name: "restart", Summary: "PostgreSQL restarted with the settings in effect",
		Actions: []string{"systemctl restart " + n.unit()},
		Check: func(ctx context.Context) (bool, error) {
			conn, err := pg.Local(ctx, port, "postgres")
			if err != nil {
				return false, nil
			}
			defer conn.Close(ctx)
			var listen, ssl string
			var pending int
			err = conn.QueryRow(ctx, `SELECT current_setting('listen_addresses'), current_setting('ssl'),
				(SELECT count(*) FROM pg_settings WHERE pending_restart)`).Scan(&listen, &ssl, &pending)
			return err == nil && listen == "*" && ssl == "on" && pending == 0, err
		},
		Apply: func(ctx context.Context) error {
			return pg.Restart(ctx, n.Systemd, n.unit(), port)
		},
	}
}

// roles creates the replication user, the database owner and the admin
// with scram-sha-256 verifiers: the passwords never reach the server's log.
func (n *Node) roles() engine.Phase {
	db, admin := n.db(), n.Doc.CentralServer.Admin
	users := []struct{ name, password, attrs string }{
		{db.ReplicationUser, db.ReplicationPassword, "LOGIN REPLICATION"},
		{db.Owner, db.Password, "LOGIN"},
		{admin.User, admin.Password, "LOGIN CREATEDB CREATEROLE"},
	}
	port := n.instance().Port
	var actions []string
	for _, u := range users {
		actions = append(actions, "CREATE USER "+u.name+" "+u.attrs+" PASSWORD '<scram-sha-256 verifier>'")
	}
	return engine.Phase{
		Name: "roles", Summary: "replication user " + db.ReplicationUser + ", database owner " + db.Owner + ", admin " + admin.User, Actions: actions,
		Check: func(ctx context.Context) (bool, error) {
			for _, u := range users {
				if !pg.PasswordWorks(ctx, port, u.name, u.password, "postgres") {
					return false, nil
				}
			}
			return true, nil
		},
		Apply: func(ctx context.Context) error {
			conn, err := pg.Local(ctx, port, "postgres")
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			for _, u := range users {
				verifier, err := pg.Verifier("scram-sha-256", u.name, u.password)
				if err != nil {
					return err
				}
				verb := "CREATE USER"
				if ok, err := pg.RoleExists(ctx, conn, u.name); err != nil {
					return err
				} else if ok {
					verb = "ALTER USER"
				}
				if _, err := conn.Exec(ctx, verb+" "+pg.Ident(u.name)+" "+u.attrs+" PASSWORD "+pg.Literal(verifier)); err != nil {
					return fmt.Errorf("%s %s failed: %w", verb, u.name, err)
				}
			}
			return nil
		},
	}
}

// database creates the central server's database, owned by its user, as a
// remote-database central server install expects to find it.
func (n *Node) database() engine.Phase {
	db := n.db()
	port := n.instance().Port
	return engine.Phase{
		Name: "database", Summary: "database " + db.Name + " owned by " + db.Owner,
		Actions: []string{"CREATE DATABASE " + db.Name + " OWNER " + db.Owner + " ENCODING 'UTF8'"},
		Check: func(ctx context.Context) (bool, error) {
			conn, err := pg.Local(ctx, port, "postgres")
			if err != nil {
				return false, err
			}
			defer conn.Close(ctx)
			return pg.DatabaseExists(ctx, conn, db.Name)
		},
		Apply: func(ctx context.Context) error {
			conn, err := pg.Local(ctx, port, "postgres")
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "CREATE DATABASE "+pg.Ident(db.Name)+" OWNER "+pg.Ident(db.Owner)+" ENCODING 'UTF8'")
			return err
		},
	}
}

// slots creates one physical replication slot per standby, idempotently
// (pg_basebackup -C fails once the slot exists).
func (n *Node) slots() engine.Phase {
	var names []string
	for _, s := range n.db().Standbys {
		names = append(names, metadata.SlotName(s.Name))
	}
	port := n.instance().Port
	missing := func(ctx context.Context) ([]string, error) {
		conn, err := pg.Local(ctx, port, "postgres")
		if err != nil {
			return nil, err
		}
		defer conn.Close(ctx)
		var m []string
		for _, s := range names {
			var exists bool
			if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", s).Scan(&exists); err != nil {
				return nil, err
			}
			if !exists {
				m = append(m, s)
			}
		}
		return m, nil
	}
	return engine.Phase{
		Name: "slots", Summary: "physical replication slots " + strings.Join(names, ", "),
		Actions: []string{"SELECT pg_create_physical_replication_slot(<slot>) for each missing slot"},
		Check: func(ctx context.Context) (bool, error) {
			m, err := missing(ctx)
			return err == nil && len(m) == 0, err
		},
		Apply: func(ctx context.Context) error {
			m, err := missing(ctx)
			if err != nil {
				return err
			}
			conn, err := pg.Local(ctx, port, "postgres")
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			for _, s := range m {
				if _, err := conn.Exec(ctx, "SELECT pg_create_physical_replication_slot($1)", s); err != nil {
					return fmt.Errorf("slot %s: %w", s, err)
				}
			}
			return nil
		},
	}
}

// verifyStandbys waits until every standby streams (Appendix A, "Verifying
// replication").
func (n *Node) verifyStandbys() engine.Phase {
	var names []string
	for _, s := range n.db().Standbys {
		names = append(names, s.Name)
	}
	return steps.FollowersStreaming(n.instance().Port, names, "standby", "standbys", n.FollowersWait)
}

// passfilePath is the replication user's passfile: in postgres's home,
// unless the node names another (Node.PassfilePath).
func (n *Node) passfilePath() string {
	if n.PassfilePath != "" {
		return n.PassfilePath
	}
	home := "/var/lib/postgresql"
	if ids, err := system.LookupIDs("postgres"); err == nil {
		home = ids.Home
	}
	return filepath.Join(home, ".xroad-replication.pgpass")
}

// passfileLine escapes ':' and '\' as the passfile format requires.
func passfileLine(port int, user, password string) string {
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	return fmt.Sprintf("*:%d:replication:%s:%s\n", port, esc.Replace(user), esc.Replace(password))
}

// passfile keeps the replication password out of primary_conninfo, argv
// and the environment: libpq reads it from here.
func (n *Node) passfile() engine.Phase {
	db := n.db()
	return steps.Files("passfile", "replication password in a 0600 passfile", []engine.File{{
		Path: n.passfilePath(), Mode: 0o600, Owner: "postgres:postgres", Secret: true,
		Content: []byte(passfileLine(db.Port, db.ReplicationUser, db.ReplicationPassword)),
	}}, nil)
}

// primaryConninfo is how this standby reaches the primary: the replication
// user, its passfile, and the primary's certificate checked against the CA.
// dbname=replication is what the passfile's database field matches for a
// physical replication connection; the server ignores it.
func (n *Node) primaryConninfo() string {
	db := n.db()
	return confedit.Conninfo(map[string]string{
		"host": db.Primary.Address, "port": fmt.Sprint(db.Port), "user": db.ReplicationUser, "dbname": "replication",
		"passfile": n.passfilePath(), "sslmode": "verify-ca", "sslrootcert": n.tls().CA, "application_name": n.Doc.Node,
	}, "host", "port", "user", "dbname", "passfile", "sslmode", "sslrootcert", "application_name")
}

// recoveryLines are Appendix A's standby settings.
func (n *Node) recoveryLines() []string {
	return []string{
		"primary_conninfo = " + confedit.PGString(n.primaryConninfo()),
		"primary_slot_name = " + confedit.PGString(metadata.SlotName(n.Doc.Node)),
		"recovery_target_timeline = 'latest'",
	}
}

// standbyLines go into postgresql.conf from PostgreSQL 12 on; below, they
// are in recovery.conf.
func (n *Node) standbyLines() []string {
	if n.Facts.PG.Standby.Method == profiles.RecoveryConf {
		return nil
	}
	return n.recoveryLines()
}

// standbyFile is standby.signal, or recovery.conf with standby_mode below 12.
func (n *Node) standbyFile() engine.File {
	dir := n.instance().DataDir
	if n.Facts.PG.Standby.Method == profiles.RecoveryConf {
		body := "standby_mode = 'on'\n" + strings.Join(n.recoveryLines(), "\n") + "\n"
		return engine.File{Path: dir + "/recovery.conf", Mode: 0o600, Owner: "postgres:postgres", Content: []byte(body)}
	}
	return engine.File{Path: dir + "/standby.signal", Mode: 0o600, Owner: "postgres:postgres", Content: []byte{}}
}

// waitPrimary waits until the primary answers a replication connection as
// the replication user and has made the central servers' database. The
// database is the last of the primary's setup steps that change the server
// (its restart for the settings, the slots, the roles, then the database):
// a login alone is possible from the roles on, and a base backup taken
// then overlapped the primary's CREATE DATABASE.
func (n *Node) waitPrimary() engine.Phase {
	reachable := func(ctx context.Context) (bool, error) {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := pg.PrimarySystemID(c, n.primaryConninfo()+" connect_timeout=5"); err != nil {
			return false, err
		}
		return n.primaryDatabaseMade(c)
	}
	return engine.Phase{
		Name: "wait-primary", Summary: "database primary " + n.db().Primary.Address + " answers replication and has database " + n.db().Name,
		Actions: []string{"IDENTIFY_SYSTEM over " + n.primaryConninfo(), "log in to database " + n.db().Name + " as " + n.db().ReplicationUser},
		Check: func(ctx context.Context) (bool, error) {
			ok, _ := reachable(ctx)
			return ok, nil
		},
		Apply: func(ctx context.Context) error {
			return steps.WaitFor(ctx, n.PrimaryWait, "database primary "+n.db().Primary.Address, reachable)
		},
	}
}

// primaryDatabaseMade logs in to the primary's central server database as
// the replication user (pg_hba lets every user of the database in; the
// password is given in memory, never in a conninfo string). A refused
// CONNECT privilege proves the database exists as well as a login does.
func (n *Node) primaryDatabaseMade(ctx context.Context) (bool, error) {
	db := n.db()
	cfg, err := pgconn.ParseConfig(confedit.Conninfo(map[string]string{
		"host": db.Primary.Address, "port": fmt.Sprint(db.Port), "user": db.ReplicationUser, "dbname": db.Name,
		"sslmode": "verify-ca", "sslrootcert": n.tls().CA, "connect_timeout": "5",
	}, "host", "port", "user", "dbname", "sslmode", "sslrootcert", "connect_timeout"))
	if err != nil {
		return false, err
	}
	cfg.Password = db.ReplicationPassword
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err == nil {
		return true, conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege: no CONNECT on it
		return true, nil
	}
	return false, fmt.Errorf("database %s on the primary: %w", db.Name, err)
}

// verifyStandby waits until the standby is in recovery and its WAL receiver
// streams from the primary.
func (n *Node) verifyStandby() engine.Phase {
	streaming := func(ctx context.Context) (bool, error) {
		_, status, err := pg.WALReceiver(ctx, n.instance().Port)
		return err == nil && status == "streaming", err
	}
	return engine.Phase{
		Name: "verify", Summary: "in recovery, streaming from " + n.db().Primary.Address + " on slot " + metadata.SlotName(n.Doc.Node),
		Actions: []string{"SELECT status FROM pg_stat_wal_receiver"},
		Check:   streaming,
		Apply: func(ctx context.Context) error {
			return steps.WaitFor(ctx, n.PrimaryWait, "WAL streaming from "+n.db().Primary.Address, streaming)
		},
	}
}

// baseBackup clones the primary through the standby's slot (Appendix A,
// "Preparing the standby"), into a temporary directory swapped in with its
// standby file; the image's own empty cluster is moved aside, not deleted.
// A data directory holding databases of its own is refused.
func (n *Node) baseBackup() engine.Phase {
	dataDir := n.instance().DataDir
	db := n.db()
	primaryID := func(ctx context.Context) (pg.Identity, error) { return pg.Identify(ctx, n.primaryConninfo()) }
	return engine.Phase{
		Name: "basebackup", Summary: "base backup of " + db.Primary.Address + " on slot " + metadata.SlotName(n.Doc.Node),
		Actions: []string{fmt.Sprintf("PGPASSFILE=%s PGSSLMODE=verify-ca PGSSLROOTCERT=%s pg_basebackup -h %s -p %d -U %s --slot=%s -D <temporary directory> -X stream -c fast (as postgres)",
			n.passfilePath(), n.tls().CA, db.Primary.Address, db.Port, db.ReplicationUser, metadata.SlotName(n.Doc.Node)),
			"write " + n.standbyFile().Path + " into the backup", "swap it in; move the old data directory aside"},
		// Every node of an image starts with the image's own cluster, whose
		// system identifier the primary shares: only a clone carries the
		// standby file too. A standby still on an older timeline than the
		// primary's may have received WAL past the fork: it is cloned anew.
		Check: func(ctx context.Context) (bool, error) {
			if _, err := os.Stat(n.standbyFile().Path); err != nil {
				return false, nil
			}
			primary, err := primaryID(ctx)
			if err != nil {
				return false, err
			}
			local, err := pg.ControlData(ctx, n.Facts.PG.BinDir, dataDir)
			return err == nil && local == primary, nil
		},
		Apply: func(ctx context.Context) error {
			primary, err := primaryID(ctx)
			if err != nil {
				return err
			}
			if local, err := pg.SystemID(ctx, n.Facts.PG.BinDir, dataDir); err == nil && local != primary.SystemID {
				if err := refuseUsed(dataDir); err != nil {
					return err
				}
			}
			if err := n.Systemd.Stop(ctx, n.unit()); err != nil {
				return err
			}
			system.Notify("base backup from " + db.Primary.Address)
			return pg.Clone{DataDir: dataDir, Standby: n.standbyFile(),
				Usable: func(ctx context.Context, dir string) (bool, error) {
					id, err := pg.SystemID(ctx, n.Facts.PG.BinDir, dir)
					return err == nil && id == primary.SystemID, nil
				},
				Env: []string{"PGPASSFILE=" + n.passfilePath(), "PGSSLMODE=verify-ca", "PGSSLROOTCERT=" + n.tls().CA, "PGAPPNAME=" + n.Doc.Node + " basebackup"},
				Args: []string{"-h", db.Primary.Address, "-p", fmt.Sprint(db.Port), "-U", db.ReplicationUser,
					"--slot=" + metadata.SlotName(n.Doc.Node), "-X", "stream", "-c", "fast", "--no-password"},
			}.Run(ctx)
		},
	}
}

// refuseUsed refuses a data directory with databases beyond the three every
// new cluster has (template0, template1, postgres): someone's data.
func refuseUsed(dataDir string) error {
	entries, err := os.ReadDir(filepath.Join(dataDir, "base"))
	if err != nil {
		return err
	}
	if len(entries) > 3 {
		return retry.Final(fmt.Errorf("%s belongs to another cluster and holds %d databases; refusing to replace it (move it away by hand if it is disposable)", dataDir, len(entries)))
	}
	return nil
}
