package units

import (
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"xroad-appliance/profiles"
)

// SSLCertUnitPath is the unit that makes a node's own default self-signed
// TLS pair, which the image does not carry.
const SSLCertUnitPath = "/usr/lib/systemd/system/xroad-ssl-cert.service"

// SSLCertUnit runs the profile's firstBoot.selfSignedCertificate command
// while one of its files is missing: before PostgreSQL's instances start
// (the default cluster made at install refers to the pair). Not before the
// provisioner, which would wait for the pair (and the distribution's own
// unit making it) with nothing to do: the serverconf instance uses the
// node's own TLS files (guide 4.1), set after pg_createcluster whether or
// not it found the pair, and the default instance's start job, which the
// provisioner waits for, is ordered after this unit. nil where the profile
// has none.
func SSLCertUnit(f *profiles.Facts) *File {
	s := f.FirstBoot.SelfSignedCertificate
	if s == nil {
		return nil
	}
	before := append([]string{}, s.Before...)
	before = append(before, serviceNames([]string{f.PG.Default.Unit, f.PG.Serverconf.Unit})...)
	opts := []*unit.UnitOption{
		opt("Unit", "Description", "Per-node self-signed TLS pair ("+strings.Join(s.Files, ", ")+")"),
	}
	for _, p := range s.Files {
		// Triggering conditions: run when any of them is missing.
		opts = append(opts, opt("Unit", "ConditionPathExists", "|!"+p))
	}
	opts = append(opts,
		opt("Unit", "ConditionFileIsExecutable", s.Command[0]),
		opt("Unit", "Before", strings.Join(before, " ")),
	)
	if len(s.After) > 0 {
		opts = append(opts, opt("Unit", "After", strings.Join(s.After, " ")))
	}
	opts = append(opts,
		opt("Service", "Type", "oneshot"),
		opt("Service", "RemainAfterExit", "yes"),
		opt("Service", "ExecStart", strings.Join(s.Command, " ")),
		opt("Install", "WantedBy", "multi-user.target"),
	)
	return &File{Path: SSLCertUnitPath, Mode: 0o644, Content: withHeader(serialize(opts), "the image carries no TLS key; each node makes its own")}
}
