package metadata

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"xroad-appliance/provisioner/address"
)

// validateOpts tune checks that depend on the moment of validation.
type validateOpts struct {
	// now is the time certificates must be valid at; zero means time.Now().
	now time.Time
	// skipValidityPeriod leaves out certificate expiry: a frozen copy was
	// checked when it was frozen, and day-2 tools must still read it after the
	// certificates expire or while the clock is wrong.
	skipValidityPeriod bool
	// moved is a central-server database document after a promote or
	// rejoin: the admin rule follows the role as provisioned, not as moved.
	moved bool
}

// Validate checks the whole document and returns a *ValidationError listing
// every problem, each naming its field. Certificates must be valid now.
func (d *Document) Validate() error {
	return d.validate(validateOpts{})
}

type checker struct {
	opts validateOpts
	errs []*FieldError
}

func (c *checker) fail(field, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (d *Document) validate(opts validateOpts) error {
	if opts.now.IsZero() {
		opts.now = time.Now()
	}
	c := &checker{opts: opts}

	c.version(d.Version)
	c.name("cluster", d.Cluster, false)
	c.name("node", d.Node, true)
	if d.Role.IsCentralServer() {
		c.centralServer(d)
		if d.Options != (Options{}) {
			c.fail("options", "not allowed on role %s (security-server options)", d.Role)
		}
		c.tls(d)
		if d.PublicName != "" {
			c.fail("publicName", "not allowed on role %s (a security-server cluster's name)", d.Role)
		}
	} else {
		c.securityServer(d)
		c.address("publicName", d.PublicName, false)
	}
	c.adminUser("adminUser", d.AdminUser)
	c.join(d)
	return c.result()
}

// result is every problem found, or nil.
func (c *checker) result() error {
	if len(c.errs) > 0 {
		return &ValidationError{Fields: c.errs}
	}
	return nil
}

func (c *checker) version(v string) {
	switch v {
	case Version:
	case "":
		c.fail("version", "required")
	default:
		c.fail("version", "unsupported; this program reads %s", Version)
	}
}

// securityServer checks the security-server roles' fields.
func (c *checker) securityServer(d *Document) {
	c.name("primary.name", d.Primary.Name, true)
	c.address("primary.address", d.Primary.Address, true)

	var primaryHostKey = c.publicKey("primary.hostKey", d.Primary.HostKey, d.Role == RoleSecondary)

	switch d.Role {
	case RolePrimary:
		if d.Node != "" && d.Primary.Name != "" && d.Node != d.Primary.Name {
			c.fail("node", "must equal primary.name on the primary")
		}
		c.secondaries(d, primaryHostKey)
		c.primarySSH(d, primaryHostKey)
	case RoleSecondary:
		if d.Node != "" && d.Node == d.Primary.Name {
			c.fail("node", "must differ from primary.name on a secondary")
		}
		if len(d.Secondaries) > 0 {
			c.secondaries(d, primaryHostKey)
		}
		c.secondarySSH(d, primaryHostKey)
	case "":
		c.fail("role", "required (primary, secondary, cs-db-primary, cs-db-standby or cs-node)")
	default:
		c.fail("role", "must be primary, secondary, cs-db-primary, cs-db-standby or cs-node")
	}
	if d.CentralServer != nil {
		c.fail("centralServer", "not allowed on a security-server role")
	}
	c.password("serverconfPassword", d.ServerconfPassword)
	c.tls(d)
	c.options(d.Options)
}

// MaxSecondaries bounds a security-server cluster. Every node sizes
// max_wal_senders for this many secondaries, not for the number its own
// document lists: a standby must hold at least its primary's value
// (PostgreSQL 12 and later refuse hot standby below it), and documents of
// one cluster differ in length once a secondary is added.
const MaxSecondaries = 20

// nameRE is deliberately narrow: a node name becomes a PostgreSQL role, a
// certificate CN, application_name, a file name and possibly a host name.
var nameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// reservedNames would collide with PostgreSQL roles and pg_hba.conf keywords
// or with the X-Road database users: a secondary named "postgres" would turn
// the superuser into a replication user.
var reservedNames = map[string]bool{
	"postgres": true, "public": true, "all": true, "none": true,
	"sameuser": true, "samerole": true, "samehost": true, "samenet": true,
	"replication": true, "slavenode": true, "serverconf": true,
	"messagelog": true, "opmonitor": true, "xroad": true, "root": true,
}

func (c *checker) name(field, v string, node bool) {
	if msg := NameProblem(v, node); msg != "" {
		c.fail(field, "%s", msg)
	}
}

// address accepts a host name or an IP literal and nothing that could break
// out of a systemd Environment= line or a libpq conninfo string.
func (c *checker) address(field, v string, required bool) {
	if v == "" {
		if required {
			c.fail(field, "required")
		}
		return
	}
	if msg := checkAddress(v); msg != "" {
		c.fail(field, "%s", msg)
	}
}

func checkAddress(v string) string { return address.Problem(v) }

func (c *checker) password(field, v string) {
	switch {
	case v == "":
		c.fail(field, "required")
		return
	case len(v) < 12:
		c.fail(field, "must be at least 12 characters")
	case len(v) > 256:
		c.fail(field, "must be at most 256 characters")
	}
	// Printable ASCII only: db.properties is read as ISO-8859-1 by Java, and
	// control characters break the passfile and properties formats.
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			c.fail(field, "must be printable ASCII without control characters")
			return
		}
	}
	// Java properties drop leading blanks from a value.
	if strings.TrimSpace(v) != v {
		c.fail(field, "must not begin or end with a space")
	}
}

// reservedPorts are taken on an appliance node; the health check and the
// join service must not collide with them.
var reservedPorts = map[int]string{
	22:   "SSH (rsync of /etc/xroad)",
	80:   "the security server's client port",
	443:  "the security server's client port",
	8080: "the security server's client port",
	8443: "the security server's client port",
	4000: "the admin UI",
	5432: "the default PostgreSQL instance",
	5433: "the serverconf PostgreSQL instance",
	5500: "the security server's message exchange port",
	5566: "the proxy admin port (maintenance mode)",
	5577: "the security server's OCSP port",
}

// PortProblem says what is wrong with a TCP port a node listens on ("" when
// it is fine): out of range, or taken by another service of the node.
func PortProblem(p int) string {
	switch {
	case p < 1 || p > 65535:
		return "must be 1-65535"
	case reservedPorts[p] != "":
		return fmt.Sprintf("port %d is used by %s", p, reservedPorts[p])
	}
	return ""
}

func (c *checker) port(field string, p int) {
	if msg := PortProblem(p); msg != "" {
		c.fail(field, "%s", msg)
	}
}

func (c *checker) options(o Options) {
	if o.HealthCheckPort == 0 {
		c.fail("options.healthCheckPort", "must be 1-65535 (appliances always run the health check)")
	} else {
		c.port("options.healthCheckPort", o.HealthCheckPort)
	}
	ip, err := netip.ParseAddr(o.HealthCheckInterface)
	switch {
	case o.HealthCheckInterface == "":
		c.fail("options.healthCheckInterface", "required (an IP address, 0.0.0.0 for all)")
	case err != nil || ip.Zone() != "":
		c.fail("options.healthCheckInterface", "must be an IP address")
	}
}

func (c *checker) secondaries(d *Document, primaryHostKey []byte) {
	if len(d.Secondaries) == 0 {
		// Secondaries that join by token are added to the list as they join.
		if d.Join == nil {
			c.fail("secondaries", "required on the primary: list at least one secondary, or let them join (join)")
		}
		return
	}
	if len(d.Secondaries) > MaxSecondaries {
		c.fail("secondaries", "%d listed; a cluster has at most %d secondaries (every node's max_wal_senders is sized for that many)", len(d.Secondaries), MaxSecondaries)
	}
	names := map[string]int{}
	addrs := map[string]int{}
	keys := map[string]int{}
	hostKeys := map[string]int{}
	for i, m := range d.Secondaries {
		p := fmt.Sprintf("secondaries[%d]", i)
		if hk := c.publicKey(p+".hostKey", m.HostKey, false); hk != nil {
			if j, dup := hostKeys[string(hk)]; dup {
				c.fail(p+".hostKey", "duplicate of secondaries[%d].hostKey", j)
			} else {
				hostKeys[string(hk)] = i
			}
			if bytes.Equal(hk, primaryHostKey) {
				c.fail(p+".hostKey", "is the primary's host key")
			}
		}
		c.name(p+".name", m.Name, true)
		if m.Name != "" {
			if j, dup := names[m.Name]; dup {
				c.fail(p+".name", "duplicate of secondaries[%d].name", j)
			} else {
				names[m.Name] = i
			}
			if m.Name == d.Primary.Name {
				c.fail(p+".name", "must differ from primary.name")
			}
		}
		c.address(p+".address", m.Address, false)
		if m.Address != "" {
			if j, dup := addrs[address.Key(m.Address)]; dup {
				c.fail(p+".address", "the same address as secondaries[%d].address", j)
			} else {
				addrs[address.Key(m.Address)] = i
			}
			if d.Primary.Address != "" && address.Key(m.Address) == address.Key(d.Primary.Address) {
				c.fail(p+".address", "the same address as primary.address")
			}
		}
		key := c.publicKey(p+".sshPublicKey", m.SSHPublicKey, true)
		if key == nil {
			continue
		}
		if j, dup := keys[string(key)]; dup {
			c.fail(p+".sshPublicKey", "duplicate of secondaries[%d].sshPublicKey", j)
		} else {
			keys[string(key)] = i
		}
		if primaryHostKey != nil && string(key) == string(primaryHostKey) {
			c.fail(p+".sshPublicKey", "is the primary's host key")
		}
	}
}
