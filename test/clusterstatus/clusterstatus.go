// Package clusterstatus reads `xroad-node status --json` on every node of a
// booted cluster, decides whether the cluster has converged (every secondary
// streaming and synced, every node healthy) and prints one table of it.
package clusterstatus

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/status"
	"xroad-appliance/test/cluster"
)

// Of runs `xroad-node status --json` on the node; raw is what it printed.
// The command exits non-zero on an unhealthy node, so only missing or
// undecodable JSON is an error.
func Of(ctx context.Context, n *cluster.Node) (r *status.Report, raw string, err error) {
	raw, _ = n.Exec(ctx, "xroad-node", "status", "--json")
	i := strings.Index(raw, "{")
	if i < 0 {
		return nil, raw, fmt.Errorf("%s: status --json printed no JSON:\n%s", n.Name, raw)
	}
	r = new(status.Report)
	if err := json.NewDecoder(strings.NewReader(raw[i:])).Decode(r); err != nil {
		return nil, raw, fmt.Errorf("%s: status --json: %v\n%s", n.Name, err, raw)
	}
	return r, raw, nil
}

// WaitProvisioned returns once every node has finished provisioning or
// one has failed, or ctx ends. It reads only the nodes' stamps and results,
// from the host: a status round on every node every fraction of a second
// would take the cores the nodes boot on.
func WaitProvisioned(ctx context.Context, nodes []*cluster.Node) {
	for !provisioned(nodes) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// provisioned tells whether every node has finished provisioning, or one
// has failed (then its status says why).
func provisioned(nodes []*cluster.Node) bool {
	for _, n := range nodes {
		st := nodestate.Open(n.Root())
		if _, err := os.Stat(st.ProvisionedStamp()); err == nil {
			continue
		}
		var res engine.Result
		if b, err := os.ReadFile(st.ResultFile()); err == nil && json.Unmarshal(b, &res) == nil && res.Status == "failed" {
			return true
		}
		return false
	}
	return true
}

// View is every node's report, in the nodes' order; a nil report is a node
// that could not be asked.
type View struct {
	Nodes   []*cluster.Node
	Reports []*status.Report
	Errors  []error
}

// Collect asks every node.
func Collect(ctx context.Context, nodes []*cluster.Node) View {
	v := View{Nodes: nodes, Reports: make([]*status.Report, len(nodes)), Errors: make([]error, len(nodes))}
	for i, n := range nodes {
		v.Reports[i], _, v.Errors[i] = Of(ctx, n)
	}
	return v
}

// Converged is true when every node is provisioned and healthy with its
// health port answering 200, the primary sees every expected secondary
// streaming, and every secondary's last configuration sync succeeded. Else
// it says what is still missing.
func (v View) Converged() (bool, string) {
	var waiting []string
	for i, r := range v.Reports {
		name := v.Nodes[i].Name
		switch {
		case r == nil:
			waiting = append(waiting, fmt.Sprintf("%s: %v", name, v.Errors[i]))
		case !r.Provisioning.Provisioned:
			waiting = append(waiting, name+": provisioning")
		case !r.Healthy:
			waiting = append(waiting, fmt.Sprintf("%s: %s", name, strings.Join(r.Problems, "; ")))
		case r.HealthCheck.StatusCode != 200:
			waiting = append(waiting, fmt.Sprintf("%s: health port answers %d", name, r.HealthCheck.StatusCode))
		case r.Primary != nil && (len(r.Primary.Missing) > 0 || streaming(r) != len(r.Primary.Secondaries)):
			waiting = append(waiting, name+": secondaries not all streaming")
		case r.Sync != nil && (r.Sync.LastRun == nil || !r.Sync.LastRun.OK):
			waiting = append(waiting, name+": configuration not synced")
		}
	}
	return len(waiting) == 0, strings.Join(waiting, "\n")
}

func streaming(r *status.Report) int {
	n := 0
	for _, s := range r.Primary.Secondaries {
		if s.State == "streaming" {
			n++
		}
	}
	return n
}

// WriteTable prints one line per node.
func (v View) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tROLE\tPROVISIONED\tREPLICATION\tCONFIGURATION\tHEALTH PORT\tHEALTHY")
	for i, r := range v.Reports {
		n := v.Nodes[i]
		if r == nil {
			fmt.Fprintf(tw, "%s\t%s\t?\t?\t%v\t\t\t\n", n.Name, n.Addr, v.Errors[i])
			continue
		}
		health := fmt.Sprint(r.HealthCheck.StatusCode)
		if r.HealthCheck.Error != "" {
			health = "no answer"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Addr, r.Node.Role, yesNo(r.Provisioning.Provisioned),
			replication(r), configuration(r), health, yesNo(r.Healthy))
	}
	return tw.Flush()
}

func replication(r *status.Report) string {
	switch {
	case r.Primary != nil:
		var parts []string
		for _, s := range r.Primary.Secondaries {
			parts = append(parts, s.Name+" "+s.State)
		}
		for _, m := range r.Primary.Missing {
			parts = append(parts, m+" missing")
		}
		return "serves " + strings.Join(parts, ", ")
	case r.Secondary != nil:
		text := "receiver " + r.Secondary.WalReceiver
		if r.Secondary.WalReceiver == "" {
			text = "no WAL receiver"
		}
		if r.Secondary.LagBytes != nil {
			text += fmt.Sprintf(", lag %d B", *r.Secondary.LagBytes)
		}
		return text
	}
	return "-"
}

func configuration(r *status.Report) string {
	switch {
	case r.Sync == nil:
		return "source of sync"
	case r.Sync.Disabled:
		return "sync paused"
	case r.Sync.LastRun == nil:
		return "not synced yet"
	case r.Sync.LastRun.OK:
		return fmt.Sprintf("synced %.0fs ago", r.Sync.LastRun.AgeSeconds)
	}
	return fmt.Sprintf("sync failed (rsync %d)", r.Sync.LastRun.ExitCode)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
