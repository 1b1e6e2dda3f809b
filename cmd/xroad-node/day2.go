package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"xroad-appliance/cmd/internal/cli"
	"xroad-appliance/provisioner/inputfile"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/operations"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/system"
)

// day2 is a group of day-2 subcommands sharing how they open the node.
type day2 struct {
	facts     factsFlags
	adminPort int
	// centralServer: the commands also serve the central-server HA roles;
	// the others are refused there.
	centralServer bool
}

func (d *day2) register(fs *flag.FlagSet) {
	d.facts.register(fs)
	fs.IntVar(&d.adminPort, "admin-port", operations.DefaultAdminPort, "proxy admin port (guide 3.4)")
}

// open reads the node's frozen role document and facts, refusing a node
// that is not provisioned, and connects to systemd.
func (d *day2) open(ctx context.Context) (*operations.Node, func(), error) {
	st := nodestate.Open(nodeRoot)
	if err := operations.Provisioned(st); err != nil {
		return nil, nil, err
	}
	f, err := d.facts.load(st)
	if err != nil {
		return nil, nil, err
	}
	// Since a promote or repoint the node stands where its topology says.
	placed, err := st.Document()
	if err != nil {
		return nil, nil, err
	}
	doc := placed.Effective
	if doc.Role.IsCentralServer() && !d.centralServer {
		return nil, nil, &operations.Refusal{Reason: "a security-server command; this node's role is " + string(doc.Role) + " (central-server HA: promote, rejoin, status)"}
	}
	sd, err := system.ConnectSystemd(ctx)
	if err != nil {
		return nil, nil, err
	}
	n := &operations.Node{AdminPort: d.adminPort, Context: &phase.Context{Doc: doc, Facts: f, Systemd: sd, State: st,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil)), Out: os.Stdout}}
	return n, sd.Close, nil
}

// action is one leaf of a day-2 group.
func (d *day2) action(name, summary string, flags func(*flag.FlagSet), run func(*operations.Node, context.Context) error) *cli.Command {
	return &cli.Command{
		Name: name, Summary: summary,
		Flags: func(fs *flag.FlagSet) {
			d.register(fs)
			if flags != nil {
				flags(fs)
			}
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q", args[0])
			}
			n, done, err := d.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			return run(n, ctx)
		},
	}
}

func syncCommand() *cli.Command {
	d := &day2{}
	return &cli.Command{
		Name: "sync", Summary: "Pause, resume or force the configuration sync from the primary (secondaries)",
		Sub: []*cli.Command{
			d.action("pause", "Write the sync-disabled flag as xroad (guide 7.2.1)", nil, (*operations.Node).SyncPause),
			d.action("resume", "Remove the sync-disabled flag", nil, (*operations.Node).SyncResume),
			d.action("now", "Run xroad-sync.service once and wait for it", nil, (*operations.Node).SyncNow),
		},
	}
}

func replayCommand() *cli.Command {
	d := &day2{}
	var timeout time.Duration
	return &cli.Command{
		Name: "replay", Summary: "Pause, resume or wait for WAL replay of the serverconf standby (secondaries)",
		Sub: []*cli.Command{
			d.action("pause", "Stop applying received WAL (guide 7.2.1)", nil, (*operations.Node).ReplayPause),
			d.action("resume", "Apply received WAL again (guide 7.2.3)", nil, (*operations.Node).ReplayResume),
			d.action("wait", "Wait until replay has applied everything received (receive = replay LSN)",
				func(fs *flag.FlagSet) { fs.DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait") },
				func(n *operations.Node, ctx context.Context) error { return n.ReplayWait(ctx, timeout) }),
		},
	}
}

func maintenanceCommand() *cli.Command {
	d := &day2{}
	set := func(on bool) func(*operations.Node, context.Context) error {
		return func(n *operations.Node, ctx context.Context) error { return n.Maintenance(ctx, on) }
	}
	return &cli.Command{
		Name: "maintenance", Summary: "Switch the health check's maintenance mode through the proxy admin port (guide 3.4)",
		Sub: []*cli.Command{
			d.action("on", "The health check answers 503 until off or a proxy restart", nil, set(true)),
			d.action("off", "The health check runs its checks again", nil, set(false)),
		},
	}
}

func upgradeCommand() *cli.Command {
	d := &day2{}
	var w operations.Waits
	waits := func(fs *flag.FlagSet) {
		fs.DurationVar(&w.Drain, "drain-timeout", 5*time.Minute, "primary: how long to wait for port 5500 to drain")
		fs.DurationVar(&w.Replay, "replay-timeout", 5*time.Minute, "secondary: how long to wait for replay to catch up")
		fs.DurationVar(&w.Healthy, "healthy-timeout", 5*time.Minute, "how long to wait for a 200 from the health check")
	}
	return &cli.Command{
		Name: "upgrade", Summary: "The online rolling upgrade's steps on this node (guide 7.2), refused out of order",
		Sub: []*cli.Command{
			d.action("prepare", "Secondary: pause replay and sync. Primary: maintenance on, drain, stop the X-Road services", waits,
				func(n *operations.Node, ctx context.Context) error { return n.UpgradePrepare(ctx, w) }),
			d.action("start", "Secondary, its turn after the primary: maintenance on, drain, stop the X-Road services, resume replay and wait until it caught up", waits,
				func(n *operations.Node, ctx context.Context) error { return n.UpgradeStart(ctx, w) }),
			d.action("finish", "After the packages. Secondary: resume and force sync. Both: restart services, wait for 200", waits,
				func(n *operations.Node, ctx context.Context) error { return n.UpgradeFinish(ctx, w) }),
		},
	}
}

// topologyWaits registers the waits of promote, repoint and handover.
func topologyWaits(w *operations.TopologyWaits) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.DurationVar(&w.Follow, "follow-timeout", 5*time.Minute, "how long to wait for WAL to stream (repoint) or for the secondaries to catch up (handover)")
		fs.DurationVar(&w.Healthy, "healthy-timeout", 5*time.Minute, "how long to wait for a 200 from the health check")
	}
}

func promoteCommand() *cli.Command {
	d := &day2{centralServer: true}
	var w operations.TopologyWaits
	var force bool
	flags := func(fs *flag.FlagSet) {
		topologyWaits(&w)(fs)
		fs.BoolVar(&force, "force", false, "promote even while WAL still streams from the old primary (only when it is fenced)")
	}
	return d.action("promote", "Make this secondary (or database standby) the primary; refused while the old primary still streams to it", flags,
		func(n *operations.Node, ctx context.Context) error { return n.Promote(ctx, force, w) })
}

func repointCommand() *cli.Command {
	return followCommand(&day2{}, "repoint", "Follow a promoted primary: primary_conninfo, pinned host key and sync target",
		"the promoted node's address or name (required)", (*operations.Node).Repoint)
}

// followCommand is a command that makes the node follow the primary named by --primary.
func followCommand(d *day2, name, summary, usage string, run func(*operations.Node, context.Context, string, operations.TopologyWaits) error) *cli.Command {
	var w operations.TopologyWaits
	var primary string
	flags := func(fs *flag.FlagSet) {
		topologyWaits(&w)(fs)
		fs.StringVar(&primary, "primary", "", usage)
	}
	return d.action(name, summary, flags, func(n *operations.Node, ctx context.Context) error {
		if primary == "" {
			return cli.Usagef("--primary is required")
		}
		return run(n, ctx, primary, w)
	})
}

func handoverCommand() *cli.Command {
	d := &day2{}
	var w operations.TopologyWaits
	return d.action("handover", "On the primary: stop configuration writes, let the secondaries catch up, stop sending WAL", topologyWaits(&w),
		func(n *operations.Node, ctx context.Context) error { return n.Handover(ctx, w) })
}

func rejoinCommand() *cli.Command {
	return followCommand(&day2{centralServer: true}, "rejoin", "Central-server database node: rebuild as a standby of the promoted primary, lifting a fence",
		"the promoted database node's name or address (required)", (*operations.Node).Rejoin)
}

func reseedCommand() *cli.Command {
	d := &day2{}
	return &cli.Command{
		Name: "reseed", Args: "FILE",
		Summary: "Take the secondaries added to the cluster from this node's renewed seed (`xroad-image kit --reuse`); run on every node before they boot",
		Flags:   d.register,
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("expected this node's seed (user-data or role document)")
			}
			seed, err := readDocument(args[0])
			if err != nil {
				return err
			}
			n, done, err := d.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			next, added, err := n.Doc.Reseeded(seed)
			if err != nil {
				return cli.UsageError{Err: fmt.Errorf("%s: %w", inputfile.Name(args[0]), err)}
			}
			return n.Reseed(ctx, next, added)
		},
	}
}

func forgetCommand() *cli.Command {
	d := &day2{}
	var force bool
	return &cli.Command{
		Name: "forget", Args: "NAME",
		Summary: "On the primary: let a secondary that is gone for good out (its role, sync key and WAL retention share); for an instance group's termination hook",
		Flags: func(fs *flag.FlagSet) {
			d.register(fs)
			fs.BoolVar(&force, "force", false, "forget the secondary even while it still streams")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("expected the name of the secondary to forget")
			}
			n, done, err := d.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			return n.Forget(ctx, args[0], force)
		},
	}
}
