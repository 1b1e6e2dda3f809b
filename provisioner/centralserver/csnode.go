package centralserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"xroad-appliance/provisioner/confedit"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/steps"
	"xroad-appliance/provisioner/system"
	"xroad-appliance/provisioner/xroadsetup"
)

// Files a central server node's packages read.
const (
	LocalINI        = "/etc/xroad/conf.d/local.ini"
	DBProperties    = "/etc/xroad/db.properties"
	LibpqEnv        = "/etc/xroad/db_libpq.env"
	XRoadProperties = "/etc/xroad.properties"
)

// haNodeName writes guide 4's [center] ha-node-name.
func (n *Node) haNodeName() engine.Phase {
	me, _ := n.Doc.CSNode()
	return n.ensureEdited("ha-node-name", "[center] ha-node-name="+me.HANodeName, LocalINI, func(b []byte) []byte {
		return confedit.SetINI(b, "center", "ha-node-name", me.HANodeName)
	})
}

// hostList is the database servers, the primary first: host1:port,host2:port.
func (n *Node) hostList() string {
	db := n.db()
	hosts := []string{fmt.Sprintf("%s:%d", db.Primary.Address, db.Port)}
	for _, s := range db.Standbys {
		hosts = append(hosts, fmt.Sprintf("%s:%d", s.Address, db.Port))
	}
	return strings.Join(hosts, ",")
}

// JDBCURL lists every database server and lets the driver find the writable
// one (targetServerType=primary), so the node follows a promoted standby
// without a change here. The guide's secondary_hosts is not read by X-Road 7.
func (n *Node) JDBCURL() string {
	return fmt.Sprintf("jdbc:postgresql://%s/%s?targetServerType=primary&sslmode=verify-ca&sslrootcert=%s",
		n.hostList(), n.db().Name, TLS.CA)
}

// dbProperties points the central server at the shared database
// (Appendix A, "Configuring Central Servers").
func (n *Node) dbProperties() engine.Phase {
	db := n.db()
	set := func(b []byte) []byte {
		b = confedit.SetProperty(b, "spring.datasource.url", n.JDBCURL())
		b = confedit.SetProperty(b, "spring.datasource.username", db.Owner)
		return confedit.SetProperty(b, "spring.datasource.password", db.Password)
	}
	p := n.ensureEdited("db-properties", "spring.datasource.url = "+n.JDBCURL()+"\nspring.datasource.username = "+db.Owner+
		"\nspring.datasource.password = <the database password>", DBProperties, set)
	// The CA the URL names comes first.
	ca := steps.Files("", "", []engine.File{{Path: TLS.CA, Mode: 0o644, Owner: "root:root", Content: []byte(n.Doc.TLS.CA)}}, nil)
	check, apply := p.Check, p.Apply
	p.Check = func(ctx context.Context) (bool, error) {
		if ok, err := ca.Check(ctx); err != nil || !ok {
			return false, err
		}
		return check(ctx)
	}
	p.Apply = steps.Chain(func(ctx context.Context) error {
		if err := system.MkdirOwned(TLSDir, 0o755, "root:root"); err != nil {
			return err
		}
		return ca.Apply(ctx)
	}, apply)
	return p
}

// libpqEnv is what backup and restore use: libpq's multi-host form, and
// only a read-write server will do.
func (n *Node) libpqEnv() engine.Phase {
	db := n.db()
	var hosts, ports []string
	for _, h := range strings.Split(n.hostList(), ",") {
		host, port, _ := strings.Cut(h, ":")
		hosts, ports = append(hosts, host), append(ports, port)
	}
	body := strings.Join([]string{
		"PGHOST=" + strings.Join(hosts, ","),
		"PGPORT=" + strings.Join(ports, ","),
		"PGDATABASE=" + db.Name,
		"PGUSER=" + db.Owner,
		"PGTARGETSESSIONATTRS=read-write",
		"PGSSLMODE=verify-ca",
		"PGSSLROOTCERT=" + TLS.CA,
	}, "\n") + "\n"
	return steps.Files("libpq-env", "db_libpq.env for backup and restore", []engine.File{
		{Path: LibpqEnv, Mode: 0o640, Owner: "xroad:xroad", Content: []byte(body)},
	}, nil)
}

// adminProperties are the database admin credentials a remote-database
// install reads: root's alone.
func (n *Node) adminProperties() engine.Phase {
	a := n.Doc.CentralServer.Admin
	body := "postgres.connection.user = " + a.User + "\npostgres.connection.password = " + a.Password + "\n"
	return steps.Files("admin-properties", XRoadProperties+" with the database admin credentials", []engine.File{
		{Path: XRoadProperties, Mode: 0o600, Owner: "root:root", Content: []byte(body), Secret: true},
	}, nil)
}

// WritableDatabase opens a read-write session over the document's host
// list as the database owner, as the central server does, and says which
// server took it. Each host gets two seconds, so a stopped server does not
// use up a caller's whole bound.
func WritableDatabase(ctx context.Context, d *metadata.Document) (string, error) {
	db := d.CentralServer.Database
	var hosts, ports []string
	for _, h := range append([]metadata.Host{db.Primary}, db.Standbys...) {
		hosts, ports = append(hosts, h.Address), append(ports, fmt.Sprint(db.Port))
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%s dbname=%s user=%s sslmode=verify-ca sslrootcert=%s target_session_attrs=read-write connect_timeout=2",
		strings.Join(hosts, ","), strings.Join(ports, ","), db.Name, db.Owner, TLS.CA))
	if err != nil {
		return "", fmt.Errorf("database connection settings: %w", err)
	}
	cfg.Password = db.Password
	cfg.RuntimeParams["application_name"] = "xroad-node"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("no writable database among %s: %w", strings.Join(hosts, ", "), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.PgConn().Conn().RemoteAddr().String(), nil
}

// waitDatabase waits until the shared database takes a read-write session:
// the package's setup logs in to it, and the database nodes boot beside
// this one.
func (n *Node) waitDatabase() engine.Phase {
	ready := func(ctx context.Context) (bool, error) {
		_, err := WritableDatabase(ctx, n.Doc)
		return err == nil, nil
	}
	return engine.Phase{
		Name: "wait-database", Summary: "the shared " + n.db().Name + " database takes a read-write session",
		Actions: []string{"connect to " + n.hostList() + " (target_session_attrs=read-write)"},
		Check:   ready,
		Apply: func(ctx context.Context) error {
			return steps.WaitFor(ctx, n.PrimaryWait, "a writable "+n.db().Name+" database", ready)
		},
	}
}

// packageSetup configures xroad-center again now that db.properties names
// the shared database and the admin user exists: its postinst makes the
// node's TLS identities, sets up or migrates the database and gives the
// admin user the central server's groups.
func (n *Node) packageSetup() engine.Phase {
	fb := n.Facts.XRoad.Setup
	rule, pkg := fb.AdminUser, fb.AdminUser.CentralServerPackage
	have := func(context.Context) (bool, error) {
		return xroadsetup.HaveCertificates(fb.CentralServerCertificates), nil
	}
	if a := n.Doc.AdminUser; a != nil {
		p := xroadsetup.AdminUser(a, rule, pkg, rule.CentralServerGroups, nil)
		p.Name, p.Summary = "package-setup", pkg+" configured: TLS identities, database, admin user "+a.Name
		user := p.Check
		p.Check = func(ctx context.Context) (bool, error) {
			if ok, err := have(ctx); err != nil || !ok {
				return false, err
			}
			return user(ctx)
		}
		return p
	}
	cmd := xroadsetup.RuleCommand(rule, pkg, "")
	return engine.Phase{
		Name: "package-setup", Summary: pkg + " configured: TLS identities and database",
		Actions: []string{strings.Join(cmd, " ")},
		Check:   have,
		Apply: func(ctx context.Context) error {
			return xroadsetup.RunPackageTool(ctx, system.Cmd{Args: cmd})
		},
	}
}

// startServices starts the central server's services once provisioning
// ends: they read db.properties and local.ini when they start.
func (n *Node) startServices() engine.Phase {
	return steps.StartServices("services", "central server services started", n.Systemd, n.Facts.XRoad.CentralServerServices)
}

// ensureEdited edits a file a package ships, creating it (xroad:xroad 0640)
// when the package has not.
func (n *Node) ensureEdited(name, describe, path string, fn func([]byte) []byte) engine.Phase {
	return steps.Edits(name, describe, []steps.Edit{{Path: path, Describe: describe + "\n", Fn: fn, Create: "xroad:xroad", CreateMode: 0o640}}, nil)
}
