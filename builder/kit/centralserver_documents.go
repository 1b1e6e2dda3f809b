package kit

import "xroad-appliance/provisioner/metadata"

// centralServerPlans are the database primary's, the standbys' and the
// central servers' documents, in that order.
func (m *material) centralServerPlans(cluster string, cs *CentralServer) []*nodePlan {
	var plans []*nodePlan
	add := func(n Node, role metadata.Role) {
		plans = append(plans, &nodePlan{node: n, role: role, doc: m.csDocument(cluster, cs, n, role)})
	}
	add(cs.Database.Primary, metadata.RoleCSDBPrimary)
	for _, s := range cs.Database.Standbys {
		add(s, metadata.RoleCSDBStandby)
	}
	for _, n := range cs.Nodes {
		add(n.Node, metadata.RoleCSNode)
	}
	return plans
}

// csDocument is node n's role document: its certificate and the whole
// cluster, so that a standby can be promoted and every node told the new
// primary with a --reuse run.
func (m *material) csDocument(cluster string, cs *CentralServer, n Node, role metadata.Role) *metadata.Document {
	section := m.centralServerSection(cs)
	if carriesAdmin(role) {
		section.Admin = metadata.Credentials{User: cs.Admin, Password: m.passwords.admin}
	}
	d := &metadata.Document{
		Version:       metadata.Version,
		Cluster:       cluster,
		Role:          role,
		Node:          n.Name,
		TLS:           m.tls(n.Name),
		CentralServer: section,
	}
	// The database nodes run no X-Road package, so they have no admin user.
	if role == metadata.RoleCSNode {
		d.AdminUser = m.admin
	}
	return d
}

// carriesAdmin tells which roles get the admin credentials: the database
// primary creates the admin role and the central servers write it to
// /etc/xroad.properties; a standby receives the role by replication.
func carriesAdmin(role metadata.Role) bool {
	return role == metadata.RoleCSDBPrimary || role == metadata.RoleCSNode
}

// centralServerSection is what every document says about the cluster; each
// call returns new slices, so no two documents share one.
func (m *material) centralServerSection(cs *CentralServer) *metadata.CentralServer {
	db := cs.Database
	section := &metadata.CentralServer{
		Database: metadata.CSDatabase{
			Primary:             host(db.Primary),
			Port:                db.Port,
			Name:                db.Name,
			Owner:               db.Name,
			Password:            m.passwords.dbOwner,
			ReplicationUser:     csReplicationUser,
			ReplicationPassword: m.passwords.replication,
		},
	}
	for _, s := range db.Standbys {
		section.Database.Standbys = append(section.Database.Standbys, host(s))
	}
	for _, n := range cs.Nodes {
		section.Nodes = append(section.Nodes, metadata.CSNode{Name: n.Name, Address: n.Address, HANodeName: n.HANodeName})
	}
	return section
}

func host(n Node) metadata.Host {
	return metadata.Host{Name: n.Name, Address: n.Address}
}
