package metadata

import (
	"fmt"
	"regexp"
	"xroad-appliance/provisioner/address"
)

// Central-server HA roles (Central Server HA guide and its Appendix A): the
// central server nodes share one PostgreSQL database, itself a primary with
// streaming standbys.
const (
	RoleCSDBPrimary Role = "cs-db-primary"
	RoleCSDBStandby Role = "cs-db-standby"
	RoleCSNode      Role = "cs-node"
)

// IsCentralServer tells the central-server HA roles from the security-server ones.
func (r Role) IsCentralServer() bool {
	return r == RoleCSDBPrimary || r == RoleCSDBStandby || r == RoleCSNode
}

// CentralServer is what the central-server HA roles share: the database
// cluster and the central server nodes.
type CentralServer struct {
	Database CSDatabase `yaml:"database"`
	// Nodes are the central server nodes.
	Nodes []CSNode `yaml:"nodes"`
	// Admin is the database admin (CREATEDB, CREATEROLE) a remote-database
	// central server install reads from /etc/xroad.properties: made on the
	// database primary, written on the central server nodes. Password is secret.
	Admin Credentials `yaml:"admin,omitempty"`
}

// CSDatabase is the shared configuration database (Appendix A).
type CSDatabase struct {
	Primary  Host   `yaml:"primary"`
	Standbys []Host `yaml:"standbys"`
	Port     int    `yaml:"port"`
	// Name and Owner are the central server's database and its user
	// (centerui); Password is secret.
	Name     string `yaml:"name"`
	Owner    string `yaml:"owner"`
	Password string `yaml:"password"`
	// ReplicationUser is the standbys' user (the guide's "standby");
	// ReplicationPassword is secret.
	ReplicationUser     string `yaml:"replicationUser"`
	ReplicationPassword string `yaml:"replicationPassword"`
}

// Host is a named node at an address.
type Host struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
}

// CSNode is one central server node.
type CSNode struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	// HANodeName is its [center] ha-node-name (guide 4: node_0, node_1, ...;
	// an upgraded standalone server must be node_0).
	HANodeName string `yaml:"haNodeName"`
}

// Credentials are a user name and a secret password.
type Credentials struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// SlotName is the physical replication slot a standby streams through.
func SlotName(standby string) string {
	return "standby_" + regexp.MustCompile(`[^a-z0-9_]`).ReplaceAllString(standby, "_")
}

// centralServer checks a central-server HA document: the security-server
// fields are absent, the database and node lists complete, and this node in
// the list its role belongs to.
func (c *checker) centralServer(d *Document) {
	for field, set := range map[string]bool{
		"primary": d.Primary != (Primary{}), "secondaries": len(d.Secondaries) > 0,
		"serverconfPassword": d.ServerconfPassword != "", "ssh": d.SSH != (SSH{}),
	} {
		if set {
			c.fail(field, "not allowed on role %s (security-server field)", d.Role)
		}
	}
	cs := d.CentralServer
	if cs == nil {
		c.fail("centralServer", "required on role %s", d.Role)
		return
	}
	db := cs.Database
	seen := map[string]string{}
	seenAddr := map[string]string{}
	host := func(field string, h Host) {
		c.name(field+".name", h.Name, true)
		c.address(field+".address", h.Address, true)
		if other, dup := seen[h.Name]; dup && h.Name != "" {
			c.fail(field+".name", "duplicate of %s", other)
		}
		seen[h.Name] = field
		if other, dup := seenAddr[address.Key(h.Address)]; dup && h.Address != "" {
			c.fail(field+".address", "the same address as %s", other)
		}
		seenAddr[address.Key(h.Address)] = field + ".address"
	}
	// Every database node may be a standby with a slot of its name, the
	// primary after a fail-over too.
	dbHost := func(field string, h Host) {
		host(field, h)
		if NameProblem(h.Name, true) == "" {
			if msg := DatabaseNodeNameProblem(h.Name); msg != "" {
				c.fail(field+".name", "%s", msg)
			}
		}
	}
	dbHost("centralServer.database.primary", db.Primary)
	for i, s := range db.Standbys {
		dbHost(fmt.Sprintf("centralServer.database.standbys[%d]", i), s)
	}
	if len(cs.Nodes) == 0 {
		c.fail("centralServer.nodes", "list at least one central server node")
	}
	haNames := map[string]int{}
	for i, n := range cs.Nodes {
		field := fmt.Sprintf("centralServer.nodes[%d]", i)
		host(field, Host{Name: n.Name, Address: n.Address})
		if msg := HANodeNameProblem(n.HANodeName); msg != "" {
			c.fail(field+".haNodeName", "%s", msg)
		} else if j, dup := haNames[n.HANodeName]; dup {
			c.fail(field+".haNodeName", "duplicate of centralServer.nodes[%d].haNodeName", j)
		} else {
			haNames[n.HANodeName] = i
		}
	}
	if db.Port < 1 || db.Port > 65535 {
		c.fail("centralServer.database.port", "must be 1-65535")
	}
	c.name("centralServer.database.name", db.Name, true)
	c.name("centralServer.database.owner", db.Owner, false)
	c.name("centralServer.database.replicationUser", db.ReplicationUser, false)
	if db.Owner != "" && db.Owner == db.ReplicationUser {
		c.fail("centralServer.database.replicationUser", "must differ from the database owner")
	}
	c.password("centralServer.database.password", db.Password)
	c.password("centralServer.database.replicationPassword", db.ReplicationPassword)

	switch d.Role {
	case RoleCSDBPrimary:
		if d.Node != db.Primary.Name {
			c.fail("node", "must equal centralServer.database.primary.name on role %s", d.Role)
		}
	case RoleCSDBStandby:
		if !hasHost(db.Standbys, d.Node) {
			c.fail("node", "must be one of centralServer.database.standbys on role %s", d.Role)
		}
	case RoleCSNode:
		if _, ok := d.CSNode(); !ok {
			c.fail("node", "must be one of centralServer.nodes on role %s", d.Role)
		}
	}
	if c.opts.moved && d.Role != RoleCSNode {
		return
	}
	if d.Role == RoleCSDBStandby {
		if cs.Admin != (Credentials{}) {
			c.fail("centralServer.admin", "not on role %s: the admin role reaches a standby by replication", d.Role)
		}
		return
	}
	c.name("centralServer.admin.user", cs.Admin.User, false)
	if cs.Admin.User == db.Owner || cs.Admin.User == db.ReplicationUser {
		c.fail("centralServer.admin.user", "must differ from the database owner and the replication user")
	}
	c.password("centralServer.admin.password", cs.Admin.Password)
}

// CSNode is this node's entry among the central server nodes.
func (d *Document) CSNode() (CSNode, bool) {
	if d.CentralServer != nil {
		for _, n := range d.CentralServer.Nodes {
			if n.Name == d.Node {
				return n, true
			}
		}
	}
	return CSNode{}, false
}

func hasHost(hosts []Host, name string) bool {
	for _, h := range hosts {
		if h.Name == name {
			return true
		}
	}
	return false
}
