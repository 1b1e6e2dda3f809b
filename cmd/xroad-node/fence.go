package main

import (
	"context"
	"flag"
	"os"
	"time"

	"xroad-appliance/cmd/internal/cli"
	"xroad-appliance/provisioner/centralserver"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/phase"
)

// fenceCheckCommand runs before every start of a central-server database
// node's PostgreSQL (units.FenceDropIn). It fails closed: without its role
// document or facts it refuses the start.
func fenceCheckCommand() *cli.Command {
	var facts factsFlags
	var wait time.Duration
	return &cli.Command{
		Name:    "fence-check",
		Summary: "Before PostgreSQL starts on a database node: refuse a start as primary once another node is on a newer timeline",
		Flags: func(fs *flag.FlagSet) {
			facts.register(fs)
			fs.DurationVar(&wait, "wait", 30*time.Second, "how long to keep asking database nodes that do not answer (once provisioned)")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q", args[0])
			}
			st := nodestate.Open(nodeRoot)
			f, err := facts.load(st)
			if err != nil {
				return err
			}
			placed, err := st.Document()
			if err != nil {
				return err
			}
			doc := placed.Effective
			if doc.Role != metadata.RoleCSDBPrimary && doc.Role != metadata.RoleCSDBStandby {
				return nil
			}
			// While the node provisions, its peers are not set up yet: one
			// round of questions, no waiting.
			if !st.Provisioned() {
				wait = 0
			}
			return centralserver.FenceCheck(ctx, &phase.Context{Doc: doc, Facts: f, State: st}, wait, os.Stderr)
		},
	}
}
