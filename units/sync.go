package units

import (
	"fmt"
	"xroad-appliance/provisioner/address"

	"github.com/coreos/go-systemd/v22/unit"
)

// SyncExcludes are the paths guide 5.2.1 keeps node-local: db.properties and
// node.ini differ per node, postgresql/ holds the node's own TLS key, globalconf
// is fetched by each node's confclient, gpghome holds per-node keys. Beyond
// the guide: X-Road 7.7 and later write the node's own proxy heap size into
// services/local.properties, which a secondary must keep.
var SyncExcludes = []string{"db.properties", "/conf.d/node.ini", "*.tmp", "/postgresql", "/globalconf", "/gpghome", "/services/local.properties"}

// SyncCommand is the rsync command line of guide 5.2.1. `--delay-updates` and
// `--delete-delay` make a sync all-or-nothing per run; the timeouts keep a dead
// primary from hanging the unit.
func SyncCommand() string {
	cmd := `/usr/bin/rsync -e "ssh -o ConnectTimeout=5 " -aqz --timeout=10 --delete-delay`
	for _, e := range SyncExcludes {
		cmd += " --exclude " + quoteIfNeeded(e)
	}
	return cmd + " --delay-updates --log-file=" + SyncLog + " ${XROAD_USER}@${MASTER}:/etc/xroad/ /etc/xroad/"
}

// quoteIfNeeded quotes an exclude the way the guide writes it.
func quoteIfNeeded(s string) string {
	if s == "db.properties" {
		return s
	}
	return `"` + s + `"`
}

// SyncService is xroad-sync.service of guide 5.2.1. The primary's address
// (MASTER) is not known when the image is baked: the provisioner writes it into
// a drop-in, see SyncPrimary.
func SyncService() []*unit.UnitOption {
	return []*unit.UnitOption{
		opt("Unit", "Description", "X-Road Sync Task"),
		opt("Unit", "After", "network.target"),
		opt("Unit", "Before", "xroad-proxy.service"),
		opt("Unit", "Before", "xroad-signer.service"),
		opt("Unit", "Before", "xroad-confclient.service"),
		opt("Unit", "Before", "xroad-proxy-ui-api.service"),
		opt("Service", "User", "xroad"),
		opt("Service", "Group", "xroad"),
		opt("Service", "Type", "oneshot"),
		opt("Service", "Environment", "XROAD_USER=xroad-slave"),
		opt("Service", "ExecStartPre", "/usr/bin/test ! -f "+SyncDisabledFlag),
		opt("Service", "ExecStart", SyncCommand()),
		opt("Install", "WantedBy", "multi-user.target"),
		opt("Install", "WantedBy", "xroad-proxy.service"),
	}
}

// SyncTimer is xroad-sync.timer of guide 5.2.1: 60 s after boot, then every 60 s.
func SyncTimer() []*unit.UnitOption {
	return []*unit.UnitOption{
		opt("Unit", "Description", "Sync X-Road configuration"),
		opt("Timer", "OnBootSec", "60"),
		opt("Timer", "OnUnitActiveSec", "60"),
		opt("Install", "WantedBy", "timers.target"),
	}
}

// SyncPrimary is the drop-in that points xroad-sync.service at the primary.
// The address comes from metadata, so it is checked before it reaches a unit.
func SyncPrimary(addr string) (File, error) {
	if p := address.Problem(addr); p != "" {
		return File{}, fmt.Errorf("primary address: %s", p)
	}
	body := serialize([]*unit.UnitOption{opt("Service", "Environment", "MASTER="+addr)})
	return File{Path: SyncPrimaryDropIn, Mode: 0o644, Content: withHeader(body, "primary of this secondary")}, nil
}

// Logrotate is /etc/logrotate.d/xroad-slave-sync of guide 5.3.
func Logrotate() []byte {
	return []byte(SyncLog + ` {
        daily
        rotate 7
        missingok
        compress
        su xroad xroad
        nocreate
}
`)
}
