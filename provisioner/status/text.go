package status

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints the report as a compact table for a person.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(key, value string) { fmt.Fprintf(tw, "%s\t%s\n", key, value) }

	row("node", r.nodeText())
	if cs := r.CentralServer; cs != nil {
		row("central server HA", cs.text())
		if ha := cs.HACluster; ha != nil {
			ha.writeRows(row)
		}
	} else {
		row("serverconf", r.serverconfText())
	}
	if r.Primary != nil {
		row("replication", r.primaryText())
	}
	if r.Secondary != nil {
		row("recovery", r.secondaryText())
	}
	if r.Sync != nil {
		row("sync", r.syncText())
	}
	row("provisioning", r.provisioningText())
	if res := r.Provisioning.Result; res != nil && res.Status == "failed" {
		row("", "retry: "+res.Retry)
	}
	for _, m := range r.Provisioning.MovedAside {
		row("", fmt.Sprintf("moved aside (%s): %s, %s", m.Kind, m.Path, humanBytes(m.Bytes)))
	}
	for i, id := range r.Identity {
		key := ""
		if i == 0 {
			key = "identity"
		}
		row(key, id.text())
	}
	if r.CentralServer == nil {
		row("health check", r.healthText())
	}
	row("healthy", yesNo(r.Healthy))
	for _, p := range r.Problems {
		row("", "- "+p)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Primary != nil && len(r.Primary.Secondaries)+len(r.Primary.Missing) > 0 {
		fmt.Fprintln(w)
		return r.writeStandbys(w)
	}
	return nil
}

func (r *Report) nodeText() string {
	n := r.Node
	if n.Error != "" {
		return "unknown: " + n.Error
	}
	text := fmt.Sprintf("%s, %s of cluster %s (%s)", n.Name, n.Role, n.Cluster, n.Source)
	if n.ProvisionedAs != "" {
		text += fmt.Sprintf("; provisioned as %s, changed by %s", n.ProvisionedAs, n.Changed)
	}
	return text
}

func (r *Report) serverconfText() string {
	s := r.Serverconf
	state := s.UnitState
	if s.UnitError != "" {
		state = "state unknown (" + s.UnitError + ")"
	}
	conn := fmt.Sprintf("port %d accepts connections", s.Port)
	if !s.AcceptsConnections {
		conn = fmt.Sprintf("port %d: %s", s.Port, orDash(s.Error))
	}
	return fmt.Sprintf("%s %s; %s", orDash(s.Unit), state, conn)
}

func (r *Report) primaryText() string {
	p := r.Primary
	if p.Error != "" {
		return "unknown: " + p.Error
	}
	streaming := 0
	for _, s := range p.Secondaries {
		if s.Expected && s.State == "streaming" {
			streaming++
		}
	}
	text := fmt.Sprintf("%d of %d expected secondaries streaming", streaming, streaming+len(p.Missing)+notStreaming(p))
	if len(p.Missing) > 0 {
		var missing []string
		for _, m := range p.Missing {
			if seen := p.seenText(m, r.Time); seen != "" {
				m += " (" + seen + ")"
			}
			missing = append(missing, m)
		}
		text += "; missing: " + strings.Join(missing, ", ")
	}
	if p.LastSeenError != "" {
		text += "; last syncs unknown: " + p.LastSeenError
	}
	return text
}

func notStreaming(p *PrimaryState) int {
	n := 0
	for _, s := range p.Secondaries {
		if s.Expected && s.State != "streaming" {
			n++
		}
	}
	return n
}

func (r *Report) secondaryText() string {
	s := r.Secondary
	if s.InRecovery == nil {
		return "unknown: " + s.Error
	}
	parts := []string{"in recovery"}
	if !*s.InRecovery {
		parts = []string{"NOT in recovery"}
	}
	if s.ReplayPaused != nil && *s.ReplayPaused {
		parts = append(parts, "replay paused")
	}
	if s.WalReceiver != "" {
		parts = append(parts, "WAL receiver "+s.WalReceiver)
	}
	parts = append(parts, fmt.Sprintf("receive %s, replay %s, lag %s", orDash(s.ReceiveLSN), orDash(s.ReplayLSN), bytesText(s.LagBytes)))
	if s.LastReplay != nil {
		parts = append(parts, "last replayed transaction "+s.LastReplay.Format(time.RFC3339))
	}
	if s.Error != "" {
		parts = append(parts, "error: "+s.Error)
	}
	return strings.Join(parts, "; ")
}

func (r *Report) syncText() string {
	s := r.Sync
	var parts []string
	switch run := s.LastRun; {
	case run == nil:
		parts = append(parts, "no finished run in "+s.Log)
	case run.OK:
		parts = append(parts, fmt.Sprintf("ok at %s (%s ago), %d changes", run.Time.Format(time.RFC3339), ago(run.AgeSeconds), run.Changes))
	default:
		parts = append(parts, fmt.Sprintf("FAILED at %s (%s ago), rsync code %d: %s", run.Time.Format(time.RFC3339), ago(run.AgeSeconds), run.ExitCode, run.Message))
	}
	if s.Disabled {
		parts = append(parts, "DISABLED by "+s.DisabledFlag)
	} else {
		parts = append(parts, "enabled")
	}
	if s.Error != "" {
		parts = append(parts, "error: "+s.Error)
	}
	return strings.Join(parts, "; ")
}

func (r *Report) provisioningText() string {
	p := r.Provisioning
	parts := []string{"not provisioned"}
	if p.Provisioned {
		parts[0] = "provisioned"
	}
	if p.Pending != nil {
		parts = append(parts, fmt.Sprintf("%d of %d phases done", len(p.Done), len(p.Done)+len(p.Pending)))
	} else {
		parts = append(parts, fmt.Sprintf("%d phases done", len(p.Done)))
	}
	if res := p.Result; res != nil && len(res.Attempts) > 0 {
		last := res.Attempts[len(res.Attempts)-1]
		parts = append(parts, fmt.Sprintf("%d failed attempts, the last %s in phase %s", len(res.Attempts), last.Outcome, last.Phase))
	}
	if res := p.Result; res != nil && res.Status == "failed" {
		parts = append(parts, fmt.Sprintf("failed in phase %s at %s: %s", res.Phase, res.Time.Format(time.RFC3339), res.Error))
	}
	if p.Error != "" {
		parts = append(parts, "error: "+p.Error)
	}
	return strings.Join(parts, "; ")
}

func (r *Report) healthText() string {
	h := r.HealthCheck
	if h.Error != "" {
		return orDash(h.URL) + ": " + h.Error
	}
	text := fmt.Sprintf("%s answers %d", h.URL, h.StatusCode)
	if h.FirstLine != "" {
		text += ": " + h.FirstLine
	}
	return text
}

// writeStandbys prints pg_stat_replication as the primary sees it.
func (r *Report) writeStandbys(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SECONDARY\tCLIENT\tSTATE\tSENT\tWRITE\tFLUSH\tREPLAY\tLAG")
	for _, s := range r.Primary.Secondaries {
		name, state := s.Name, orDash(s.State)
		if !s.Expected {
			name += " (unexpected)"
		} else if s.State != "streaming" {
			state = r.Primary.withSeen(state, s.Name, r.Time)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orDash(name), orDash(s.ClientAddr), state,
			orDash(s.SentLSN), orDash(s.WriteLSN), orDash(s.FlushLSN), orDash(s.ReplayLSN), replayLagText(s))
	}
	for _, m := range r.Primary.Missing {
		fmt.Fprintf(tw, "%s\t-\t%s\t-\t-\t-\t-\t-\n", m, r.Primary.withSeen("missing", m, r.Time))
	}
	return tw.Flush()
}

// replayLagText is a standby's replay lag in bytes and, where the server
// keeps replay_lag, in seconds.
func replayLagText(s Standby) string {
	lag := bytesText(s.ReplayLagBytes)
	if s.ReplayLagSeconds != nil {
		lag += fmt.Sprintf(", %.3f s", *s.ReplayLagSeconds)
	}
	return lag
}

func bytesText(n *int64) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprintf("%d B", *n)
}

func ago(seconds float64) string {
	return (time.Duration(seconds) * time.Second).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (cs *CentralServer) text() string {
	switch {
	case cs.Fenced != nil:
		return fmt.Sprintf("%s %s, fenced: %s is on timeline %d, this node on %d (since %s)", cs.Unit, cs.UnitState,
			cs.Fenced.Peer, cs.Fenced.PeerTimeline, cs.Fenced.Timeline, cs.Fenced.Since.Format(time.RFC3339))
	case cs.HANodeName != "" && cs.Error != "":
		return "ha-node-name " + cs.HANodeName + "; error: " + cs.Error
	case cs.Error != "":
		return "error: " + cs.Error
	case cs.HANodeName != "":
		return "ha-node-name " + cs.HANodeName + ", writable database " + cs.Writable
	case cs.InRecovery != nil && *cs.InRecovery:
		return cs.standbyText()
	}
	var names []string
	for _, s := range cs.Standbys {
		names = append(names, fmt.Sprintf("%s %s (lag %s)", s.Name, s.State, replayLagText(s)))
	}
	for _, m := range cs.Missing {
		names = append(names, m+" missing")
	}
	return cs.Unit + " " + cs.UnitState + ", primary; standbys: " + strings.Join(names, ", ")
}

// standbyText tells a database standby's receiver and how far replay trails.
func (cs *CentralServer) standbyText() string {
	parts := []string{cs.Unit + " " + cs.UnitState + ", standby, WAL receiver " + orDash(cs.WalReceiver),
		fmt.Sprintf("receive %s, replay %s, lag %s", orDash(cs.ReceiveLSN), orDash(cs.ReplayLSN), bytesText(cs.LagBytes))}
	if cs.LastReplayAgeSeconds != nil {
		parts = append(parts, "last replayed transaction "+ago(*cs.LastReplayAgeSeconds)+" ago")
	} else {
		parts = append(parts, "no transaction replayed since start")
	}
	return strings.Join(parts, "; ")
}

// writeRows prints the central server's HA cluster status: a summary in the
// API's own terms, then one line per node.
func (ha *HACluster) writeRows(row func(key, value string)) {
	switch {
	case !ha.Asked:
		row("HA cluster", "not asked: no API key in "+ha.APIKeyFile)
		return
	case ha.Error != "":
		row("HA cluster", "error: "+ha.Error)
		return
	}
	row("HA cluster", fmt.Sprintf("ha_configured %s, node_name %s, all_nodes_ok %s (%s)",
		boolText(ha.HAConfigured), orDash(ha.NodeName), boolText(ha.AllNodesOK), ha.URL))
	for _, n := range ha.Nodes {
		generated := "configuration never generated"
		if n.ConfigurationGenerated != nil {
			generated = "configuration generated " + *n.ConfigurationGenerated
		}
		row("", fmt.Sprintf("%s\t%s\t%s\t%s", n.Name, orDash(n.Address), n.Status, generated))
	}
}

func boolText(b *bool) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprint(*b)
}

func (id Identity) text() string {
	when := "pending"
	if id.Time != nil {
		when = id.Time.Format(time.RFC3339)
	}
	return id.Item + ": " + id.Origin + ", " + when
}
