package status

import (
	"errors"
	"fmt"
	"time"

	"xroad-appliance/provisioner/metadata"
)

// judge lists what keeps the node from being healthy. A primary is healthy
// when provisioned, its serverconf instance is up and every expected
// secondary streams; a secondary when provisioned, in recovery, streaming
// with replay close to receive, and its last sync succeeded recently and is
// not disabled. The health check answer is reported, not judged: it depends
// on the X-Road instance beyond this node.
func judge(r *Report, c *Inputs) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if r.Node.Error != "" {
		add("role document unreadable: %s", r.Node.Error)
	}
	p = append(p, provisioningProblems(&r.Provisioning)...)
	if c.Facts == nil {
		// Without the facts the instance cannot be found; say that once.
		err := c.FactsErr
		if err == nil {
			err = errors.New("none given")
		}
		add("platform facts unreadable: %v", err)
	} else {
		p = append(p, serverconfProblems(&r.Serverconf)...)
	}
	// Without a connection the replication view is unknown; the serverconf
	// problem above already says why.
	up := r.Serverconf.AcceptsConnections
	switch role(c) {
	case metadata.RolePrimary:
		if up {
			p = append(p, primaryProblems(r.Primary, r.Time, c.SyncMaxAge)...)
		}
	case metadata.RoleSecondary:
		if up {
			p = append(p, secondaryProblems(r.Secondary, c.MaxLagBytes)...)
		}
		p = append(p, syncProblems(r.Sync, c.SyncMaxAge)...)
	case "":
	default:
		add("unknown role %q", r.Node.Role)
	}
	if p == nil {
		p = []string{}
	}
	return p
}

func provisioningProblems(pr *Provisioning) []string {
	var p []string
	if pr.Error != "" {
		p = append(p, "provisioning state unreadable: "+pr.Error)
	}
	if !pr.Provisioned {
		p = append(p, "not provisioned")
	}
	// A failed repair run on a provisioned node counts too.
	if res := pr.Result; res != nil && res.Status == "failed" {
		p = append(p, fmt.Sprintf("provisioning failed in phase %s; retry: %s", res.Phase, res.Retry))
	}
	// A replaced data directory is kept and reported, not judged: every
	// clone replaces one. A backup left behind on a provisioned node is
	// debris its last run should have removed.
	for _, m := range pr.MovedAside {
		if m.Kind == "interrupted" && pr.Provisioned {
			p = append(p, fmt.Sprintf("an interrupted base backup is left at %s (%s)", m.Path, humanBytes(m.Bytes)))
		}
	}
	return p
}

func serverconfProblems(s *Serverconf) []string {
	var p []string
	switch {
	case s.UnitError != "":
		p = append(p, fmt.Sprintf("serverconf unit %s: state unknown: %s", s.Unit, s.UnitError))
	case s.UnitState != "active":
		p = append(p, fmt.Sprintf("serverconf unit %s is %s", s.Unit, s.UnitState))
	}
	if !s.AcceptsConnections {
		p = append(p, fmt.Sprintf("serverconf instance on port %d does not accept connections: %s", s.Port, s.Error))
	}
	return p
}

// primaryProblems judges replication; a secondary that does not stream
// also says when it was last seen syncing, if long ago.
func primaryProblems(s *PrimaryState, now time.Time, maxAge time.Duration) []string {
	if s == nil {
		return nil
	}
	var p []string
	if s.Error != "" {
		p = append(p, "replication state unknown: "+s.Error)
	}
	if s.InRecovery != nil && *s.InRecovery {
		p = append(p, "the primary's serverconf instance is in recovery")
	}
	seen := func(name string) {
		if msg := s.seenProblem(name, now, maxAge); msg != "" {
			p = append(p, msg)
		}
	}
	for _, m := range s.Missing {
		p = append(p, fmt.Sprintf("secondary %s is not connected", m))
		seen(m)
	}
	for _, sb := range s.Secondaries {
		if sb.Expected && sb.State != "streaming" {
			p = append(p, fmt.Sprintf("secondary %s is %s, not streaming", sb.Name, sb.State))
			seen(sb.Name)
		}
	}
	return p
}

func secondaryProblems(s *SecondaryState, maxLag int64) []string {
	if s == nil {
		return nil
	}
	var p []string
	if s.Error != "" {
		p = append(p, "recovery state unknown: "+s.Error)
	}
	if s.InRecovery != nil && !*s.InRecovery {
		p = append(p, "the serverconf instance is not in recovery: it is no standby")
	}
	if s.ReplayPaused != nil && *s.ReplayPaused {
		p = append(p, "WAL replay is paused")
	}
	if s.WalReceiver != "" && s.WalReceiver != "streaming" {
		p = append(p, fmt.Sprintf("not streaming from the primary (WAL receiver: %s)", s.WalReceiver))
	}
	switch {
	case s.InRecovery == nil || !*s.InRecovery:
	case s.LagBytes == nil:
		p = append(p, "no WAL received from the primary since the instance started")
	case *s.LagBytes > maxLag:
		p = append(p, fmt.Sprintf("replay trails receive by %d bytes", *s.LagBytes))
	}
	return p
}

func syncProblems(s *Sync, maxAge time.Duration) []string {
	if s == nil {
		return nil
	}
	var p []string
	if s.Error != "" {
		p = append(p, "sync state unreadable: "+s.Error)
	}
	if s.Disabled {
		p = append(p, "configuration sync is disabled ("+s.DisabledFlag+" exists)")
	}
	run := s.LastRun
	switch {
	case run == nil:
		p = append(p, "no finished sync run in "+s.Log)
	case !run.OK:
		p = append(p, fmt.Sprintf("last sync at %s failed (rsync code %d): %s", run.Time.Format(time.RFC3339), run.ExitCode, run.Message))
	}
	if run != nil && time.Duration(run.AgeSeconds)*time.Second > maxAge {
		p = append(p, fmt.Sprintf("last sync ended %s ago, more than %s", time.Duration(run.AgeSeconds)*time.Second, maxAge))
	}
	return p
}

// humanBytes is a size in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
