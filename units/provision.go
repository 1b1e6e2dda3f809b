package units

import (
	"path"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/nodestate"
)

// ProvisionService is the first-boot unit. It runs once cloud-init has
// written the role file (write_files) and made the SSH host keys (its ssh
// module, which would delete a host key written before it), both in
// cloud-init's network stage, and before the X-Road services. It uses
// nothing of cloud-init's later stages (config: locale, apt, ntp, runcmd's
// module; final), so it does not wait for them: they run beside it.
//
// It does not wait for network-online.target: every use of the network is
// a poll of another node (a secondary's wait for its primary, the primary's
// for its streaming secondaries) that treats "not reachable yet" as "not
// ready yet", so an address configured late only makes a poll repeat.
// After=network.target only orders its stop before the network's at
// shutdown.
//
// It is wanted by multi-user.target but ordered only after cloud-init's early
// services, never after cloud-final.service or cloud-init.target: both are
// themselves after multi-user.target, and that cycle is broken silently by
// systemd dropping a job. The ConditionPathExists stamp keeps it from ever
// running again once the node is provisioned.
//
// A run that fails or is killed is started again by systemd after the
// profile's delay, at most its burst within its interval: with
// Restart=on-failure where the platform's systemd takes it on a oneshot
// unit, else through OnFailure= and ProvisionRetryService.
func ProvisionService(f *profiles.Facts, xroadServices []string) []*unit.UnitOption {
	opts := []*unit.UnitOption{
		opt("Unit", "Description", "X-Road appliance first-boot provisioning"),
		opt("Unit", "After", "network.target"),
		// cloud-init-network.service is cloud-init.service's name from 24.3 on;
		// an After= on a unit that does not exist is ignored. Both are before
		// sysinit.target already: this says what the unit needs of them.
		opt("Unit", "After", "cloud-init.service cloud-init-network.service"),
		opt("Unit", "Before", strings.Join(append(append([]string{}, serviceNames(xroadServices)...), "xroad-sync.service"), " ")),
		opt("Unit", "ConditionPathExists", "!"+nodestate.ProvisionedStamp),
		opt("Service", "Type", "oneshot"),
		opt("Service", "RemainAfterExit", "yes"),
		// The provisioner reports progress and extends its start timeout with
		// sd_notify during a long base backup.
		opt("Service", "NotifyAccess", "main"),
		opt("Service", "ExecStart", NodeBinary+" provision"),
		opt("Service", "TimeoutStartSec", "30min"),
		opt("Service", "StandardOutput", "journal+console"),
		opt("Install", "WantedBy", "multi-user.target"),
	}
	rp := f.Restart.Provision
	switch f.Systemd.ProvisionRetry {
	case "restart":
		opts = append(opts, opt("Service", "Restart", rp.Policy), opt("Service", "RestartSec", rp.Delay))
	case "on-failure-unit":
		opts = append(opts, opt("Unit", "OnFailure", ProvisionRetryUnit))
	}
	return append(opts, startLimits(f, rp)...)
}

// ProvisionRetryUnit starts a failed first-boot run again where systemd
// refuses Restart= on a oneshot unit (before 244).
const ProvisionRetryUnit = "xroad-provision-retry.service"

// ProvisionRetryService waits the profile's restart delay (RestartSec's
// part), then queues the provisioner's start; the provisioner's own start
// limits bound how often.
func ProvisionRetryService(f *profiles.Facts) []*unit.UnitOption {
	return []*unit.UnitOption{
		opt("Unit", "Description", "X-Road appliance: start first-boot provisioning again after a failed run"),
		opt("Unit", "ConditionPathExists", "!"+nodestate.ProvisionedStamp),
		opt("Service", "Type", "oneshot"),
		opt("Service", "ExecStartPre", "/usr/bin/sleep "+f.Restart.Provision.Delay),
		opt("Service", "ExecStart", "/usr/bin/systemctl --no-block start xroad-provision.service"),
	}
}

// startLimits are a unit's start limits in the form its systemd reads.
func startLimits(f *profiles.Facts, rp profiles.RestartPolicy) []*unit.UnitOption {
	burst := strconv.Itoa(rp.Burst)
	if f.Systemd.StartLimits == "service" {
		return []*unit.UnitOption{opt("Service", "StartLimitInterval", rp.Interval), opt("Service", "StartLimitBurst", burst)}
	}
	return []*unit.UnitOption{opt("Unit", "StartLimitIntervalSec", rp.Interval), opt("Unit", "StartLimitBurst", burst)}
}

// RestartDropIn makes a service come back after a crash (the PostgreSQL
// instances, the X-Road services): Restart= after the profile's delay, at
// most its burst within its interval. A stop asked for (systemctl stop, the
// provisioner before a base backup) is no failure and restarts nothing.
func RestartDropIn(f *profiles.Facts, service string) File {
	rp := f.Restart.Services
	body := serialize(append([]*unit.UnitOption{
		opt("Service", "Restart", rp.Policy),
		opt("Service", "RestartSec", rp.Delay),
	}, startLimits(f, rp)...))
	return File{
		Path:    "/etc/systemd/system/" + serviceName(service) + ".d/xroad-restart.conf",
		Mode:    0o644,
		Content: withHeader(body, "restarted after a crash"),
	}
}

// ServiceGate is a drop-in for each X-Road service: an appliance that has not
// finished provisioning must not start X-Road against a half-made database.
func ServiceGate(service string) File {
	body := serialize([]*unit.UnitOption{
		opt("Unit", "After", "xroad-provision.service"),
		opt("Unit", "ConditionPathExists", nodestate.ProvisionedStamp),
	})
	return File{
		Path:    "/etc/systemd/system/" + serviceName(service) + ".d/xroad-appliance.conf",
		Mode:    0o644,
		Content: withHeader(body, "X-Road services wait for provisioning"),
	}
}

// Preset enables the provisioner and, where the profile has one, the unit
// making the node's self-signed TLS pair; the sync timer and service are
// enabled by the provisioner on secondaries only (guide 5.2.1), the join
// service on a primary that admits secondaries by token.
func Preset(f *profiles.Facts) []byte {
	var b strings.Builder
	b.WriteString("# Generated by xroad-appliance\nenable xroad-provision.service\n")
	if f.FirstBoot.SelfSignedCertificate != nil {
		b.WriteString("enable " + path.Base(SSLCertUnitPath) + "\n")
	}
	b.WriteString("disable xroad-sync.timer\ndisable xroad-sync.service\ndisable " + JoinUnit + "\n")
	return []byte(b.String())
}

func serviceName(s string) string {
	if strings.Contains(s, ".") {
		return s
	}
	return s + ".service"
}

func serviceNames(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = serviceName(s)
	}
	return out
}
