package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"xroad-appliance/cmd/internal/cli"
	"xroad-appliance/provisioner/status"
)

// errUnhealthy makes the exit code 1 after the report is printed.
var errUnhealthy = errors.New("node is unhealthy")

func statusCommand() *cli.Command {
	var asJSON bool
	var timeout time.Duration
	var centerAPI string
	return &cli.Command{
		Name: "status", Summary: "Report role, serverconf replication, sync and provisioning state; exit 0 when healthy, 1 when not",
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON (fields: see package provisioner/status)")
			fs.DurationVar(&timeout, "timeout", status.DefaultTimeout, "time limit of each probe")
			fs.StringVar(&centerAPI, "center-api", status.DefaultCenterAPI,
				"cs-node: the central server API asked for the HA cluster status when "+status.CenterAPIKeyFile+" holds an API key")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q", args[0])
			}
			if timeout <= 0 {
				return cli.Usagef("--timeout must be positive")
			}
			if err := status.CheckCenterAPI(centerAPI); err != nil {
				return cli.Usagef("--center-api %v", err)
			}
			in := status.NodeInputs(ctx, "/")
			defer in.Close()
			in.Timeout, in.CenterAPI = timeout, centerAPI
			r := status.Collect(ctx, in)
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else if err := r.WriteText(os.Stdout); err != nil {
				return err
			}
			if !r.Healthy {
				return fmt.Errorf("%w: %d problem(s)", errUnhealthy, len(r.Problems))
			}
			return nil
		},
	}
}
