package units

import "github.com/coreos/go-systemd/v22/unit"

// FenceDropIn makes a central-server database node's PostgreSQL unit ask
// `xroad-node fence-check` before every start. The check runs as root ("+":
// it reads the role document) while the server itself runs as postgres; a
// refusal fails the start. It waits for the network so that it can ask the
// other database nodes.
func FenceDropIn(service string) File {
	body := serialize([]*unit.UnitOption{
		opt("Unit", "Wants", "network-online.target"),
		opt("Unit", "After", "network-online.target"),
		opt("Service", "ExecStartPre", "+"+NodeBinary+" fence-check"),
	})
	return File{
		Path:    "/etc/systemd/system/" + serviceName(service) + ".d/xroad-fence.conf",
		Mode:    0o644,
		Content: withHeader(body, "a database node never comes back as a second primary"),
	}
}
