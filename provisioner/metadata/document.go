// Package metadata defines the role document a node receives at first boot,
// decodes it strictly, validates it and finds it among the metadata sources.
package metadata

// Version is the only document version this program reads.
const Version = "xroad-appliance/v1"

// Role is what a node becomes.
type Role string

// Security-server cluster roles.
const (
	RolePrimary   Role = "primary"
	RoleSecondary Role = "secondary"
)

// Document is the role metadata of one node. Secret fields are never logged:
// a Document prints and slog-logs as a summary; use Redacted for a full copy
// without secrets.
type Document struct {
	Version string `yaml:"version"`
	// Cluster names the cluster; every node of a cluster carries the same name.
	Cluster string `yaml:"cluster"`
	Role    Role   `yaml:"role"`
	// Node is this node's name: the CN of its PostgreSQL certificate and, on a
	// secondary, its replication user and application_name.
	Node string `yaml:"node"`
	// Primary is the primary node: its address (what secondaries connect to;
	// on the primary itself informational) and the SSH host key secondaries pin.
	Primary Primary `yaml:"primary,omitempty"`
	// Secondaries lists the cluster's secondaries. Required on the primary
	// unless secondaries join by token (Join), where each becomes a
	// replication user and an authorized SSH key.
	// Optional on a secondary, where it lists every secondary (itself
	// included): what `promote` and `repoint` need to change the primary.
	Secondaries []Member `yaml:"secondaries,omitempty"`
	// ServerconfPassword is the serverconf database user's password. Secret.
	ServerconfPassword string  `yaml:"serverconfPassword,omitempty"`
	TLS                TLS     `yaml:"tls"`
	SSH                SSH     `yaml:"ssh,omitempty"`
	Options            Options `yaml:"options,omitempty"`
	// CentralServer is the central-server HA part, on those roles only.
	CentralServer *CentralServer `yaml:"centralServer,omitempty"`
	// PublicName is the name clients reach a security-server cluster by (the
	// load balancer's): the subject of the TLS certificates the primary makes
	// at first boot. Optional; the primary's name when absent.
	PublicName string `yaml:"publicName,omitempty"`
	// AdminUser is the X-Road admin user each node creates. Optional.
	AdminUser *AdminUser `yaml:"adminUser,omitempty"`
	// Join lets secondaries join the cluster by token. Optional, primary
	// only.
	Join *Join `yaml:"join,omitempty"`
}

// ClusterName is the public name of a security-server cluster.
func (d *Document) ClusterName() string {
	if d.PublicName != "" {
		return d.PublicName
	}
	return d.Primary.Name
}

// Primary identifies the primary node.
type Primary struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	// HostKey is the primary's public SSH host key in authorized_keys form
	// ("ecdsa-sha2-nistp256 AAAA..."), pinned in the secondaries' known_hosts.
	HostKey string `yaml:"hostKey"`
	// SSHPublicKey is the primary's own xroad user key. Optional; a secondary
	// promoted in its place authorizes it, so that the old primary can rejoin
	// as a secondary.
	SSHPublicKey string `yaml:"sshPublicKey,omitempty"`
}

// Member is one secondary.
type Member struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address,omitempty"`
	// SSHPublicKey is the secondary's xroad user key, authorized for read-only
	// rsync of /etc/xroad as xroad-slave on the primary.
	SSHPublicKey string `yaml:"sshPublicKey"`
	// HostKey is the secondary's pre-generated public SSH host key. Optional;
	// the other nodes pin it once this secondary is promoted.
	HostKey string `yaml:"hostKey,omitempty"`
}

// TLS is the PostgreSQL certificate material of guide 4.1, PEM encoded.
type TLS struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"` // secret
}

// SSH is the node's SSH material: HostKey is the node's pre-generated private
// host key (required on the primary, optional on a secondary, where promote
// needs it); PrivateKey/PublicKey are the xroad user's key pair (required on a
// secondary, optional on the primary).
type SSH struct {
	HostKey    string `yaml:"hostKey,omitempty"`    // secret, OpenSSH PEM
	PrivateKey string `yaml:"privateKey,omitempty"` // secret, OpenSSH PEM
	PublicKey  string `yaml:"publicKey,omitempty"`
}

// Options are the tunables of guide 3.2 and 3.4.
type Options struct {
	// HealthCheckPort is the proxy health check port (default 5588). The
	// guide's 0 (disabled) is refused: an appliance behind a load balancer
	// always answers the health check.
	HealthCheckPort int `yaml:"healthCheckPort"`
	// HealthCheckInterface is the IP address the health check listens on
	// (default 0.0.0.0).
	HealthCheckInterface string `yaml:"healthCheckInterface"`
	// PooledConnections is server-support-clients-pooled-connections; the guide
	// turns it off behind a TCP load balancer.
	PooledConnections bool `yaml:"pooledConnections"`
}
