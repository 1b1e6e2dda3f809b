package kit

import (
	"fmt"

	"xroad-appliance/provisioner/metadata"
)

// Defaults of a central-server spec.
const (
	DefaultCSDatabasePort = 5432
	// DefaultCSDatabaseName is the central server's database and its owner.
	DefaultCSDatabaseName = "centerui"
	// DefaultCSAdmin is the database admin user of /etc/xroad.properties.
	DefaultCSAdmin = "xrdadmin"
)

// csReplicationUser is the standbys' PostgreSQL user, the guide's "standby".
const csReplicationUser = "standby"

// CentralServer is a central-server cluster: the shared configuration
// database, a primary with streaming standbys, and the central server nodes.
// ParseSpec starts from DefaultCentralServer and names unnamed HA nodes; a
// CentralServer built in Go must set every field itself.
type CentralServer struct {
	Database CSDatabase `yaml:"database"`
	Nodes    []CSNode   `yaml:"nodes"`
	// Admin is the database admin user the central servers' installer reads
	// from /etc/xroad.properties.
	Admin string `yaml:"admin"`
}

// CSDatabase is the database cluster. Name is both the database and its owner.
type CSDatabase struct {
	Primary  Node   `yaml:"primary"`
	Standbys []Node `yaml:"standbys,omitempty"`
	Port     int    `yaml:"port"`
	Name     string `yaml:"name"`
}

// CSNode is one central server node.
type CSNode struct {
	Node `yaml:",inline"`
	// HANodeName is its [center] ha-node-name; ParseSpec gives a node
	// without one node_INDEX, the guide's scheme.
	HANodeName string `yaml:"haNodeName"`
}

// DefaultCentralServer is the centralServer section a spec is decoded into,
// so that what it leaves out takes the default.
func DefaultCentralServer() *CentralServer {
	return &CentralServer{
		Database: CSDatabase{Port: DefaultCSDatabasePort, Name: DefaultCSDatabaseName},
		Admin:    DefaultCSAdmin,
	}
}

// nameHANodes gives every node without an HA node name node_INDEX.
func (c *CentralServer) nameHANodes() {
	for i := range c.Nodes {
		if c.Nodes[i].HANodeName == "" {
			c.Nodes[i].HANodeName = fmt.Sprintf("node_%d", i)
		}
	}
}

// nodes lists every node in kit order: the database primary, the standbys,
// then the central servers.
func (c *CentralServer) nodes() []Node {
	list := append([]Node{c.Database.Primary}, c.Database.Standbys...)
	for _, n := range c.Nodes {
		list = append(list, n.Node)
	}
	return list
}

// isDatabaseNode tells whether name is the database primary or a standby.
func (c *CentralServer) isDatabaseNode(name string) bool {
	if c.Database.Primary.Name == name {
		return true
	}
	for _, s := range c.Database.Standbys {
		if s.Name == name {
			return true
		}
	}
	return false
}

// validate checks the section by the role document's rules: names and
// addresses unique across the database and central server nodes, and the
// PostgreSQL users distinct.
func (c *CentralServer) validate() error {
	seen := newNodeSet()
	if err := c.validateDatabaseNodes(seen); err != nil {
		return err
	}
	if err := c.validateNodes(seen); err != nil {
		return err
	}
	return c.validateDatabase()
}

func (c *CentralServer) validateDatabaseNodes(seen *nodeSet) error {
	if c.Database.Primary == (Node{}) {
		return fieldErr("centralServer.database.primary", "missing; the database needs a primary")
	}
	nodes := append([]Node{c.Database.Primary}, c.Database.Standbys...)
	for i, n := range nodes {
		at := "centralServer.database.primary"
		if i > 0 {
			at = fmt.Sprintf("centralServer.database.standbys[%d]", i-1)
		}
		if err := seen.add(at, n); err != nil {
			return err
		}
		// A database node's name is also its replication slot's.
		if msg := metadata.DatabaseNodeNameProblem(n.Name); msg != "" {
			return fieldErr(at+".name", "%s", msg)
		}
	}
	return nil
}

func (c *CentralServer) validateNodes(seen *nodeSet) error {
	if len(c.Nodes) == 0 {
		return fieldErr("centralServer.nodes", "missing; a cluster needs at least one central server node")
	}
	haNames := map[string]string{}
	for i, n := range c.Nodes {
		at := fmt.Sprintf("centralServer.nodes[%d]", i)
		if err := seen.add(at, n.Node); err != nil {
			return err
		}
		if err := checkHANodeName(at+".haNodeName", n.HANodeName); err != nil {
			return err
		}
		if prev, dup := haNames[n.HANodeName]; dup {
			return fieldErr(at+".haNodeName", "%q is already used by %s", n.HANodeName, prev)
		}
		haNames[n.HANodeName] = at + ".haNodeName"
	}
	return nil
}

// validateDatabase checks the port and the users: the owner (the database
// name), the replication user and the admin are three PostgreSQL roles, each
// with its own password, so no two may share a name.
func (c *CentralServer) validateDatabase() error {
	db := c.Database
	if db.Port < 1 || db.Port > 65535 {
		return fieldErr("centralServer.database.port", "%d is not a TCP port 1-65535", db.Port)
	}
	if err := checkName("centralServer.database.name", db.Name, true); err != nil {
		return err
	}
	if db.Name == csReplicationUser {
		return fieldErr("centralServer.database.name", "%q is the replication user", db.Name)
	}
	if err := checkName("centralServer.admin", c.Admin, false); err != nil {
		return err
	}
	if c.Admin == db.Name || c.Admin == csReplicationUser {
		return fieldErr("centralServer.admin", "%q is already the database owner or the replication user", c.Admin)
	}
	return nil
}

func checkHANodeName(field, v string) error {
	if msg := metadata.HANodeNameProblem(v); msg != "" {
		return fieldErr(field, "%s", msg)
	}
	return nil
}
