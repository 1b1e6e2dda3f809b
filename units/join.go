package units

import (
	"github.com/coreos/go-systemd/v22/unit"

	"xroad-appliance/provisioner/nodestate"
)

// JoinUnit serves secondaries joining by token on the primary.
const JoinUnit = "xroad-join.service"

// JoinService runs `xroad-node join-service`. It listens only while a join
// token is valid and exits when none is left, so it is started again by
// whatever adds a token (provisioning, `xroad-node join-token`); enabled,
// it comes back after a reboot and exits at once when every token is
// spent. It needs the node's TLS identity and the serverconf instance,
// which provisioning makes.
func JoinService() []*unit.UnitOption {
	return []*unit.UnitOption{
		opt("Unit", "Description", "X-Road appliance join service (secondaries joining by token)"),
		opt("Unit", "After", "network.target xroad-provision.service"),
		opt("Unit", "ConditionPathIsDirectory", nodestate.JoinDir),
		opt("Service", "Type", "simple"),
		opt("Service", "ExecStart", NodeBinary+" join-service"),
		opt("Service", "Restart", "on-failure"),
		opt("Service", "RestartSec", "5"),
		opt("Service", "NoNewPrivileges", "yes"),
		opt("Service", "PrivateTmp", "yes"),
		opt("Install", "WantedBy", "multi-user.target"),
	}
}
