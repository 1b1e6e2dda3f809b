// Command xroad-node provisions an X-Road appliance node at first boot from
// its role metadata and is the node's day-2 tool afterwards.
package main

import (
	"os"

	"xroad-appliance/cmd/internal/cli"
)

func main() {
	os.Exit(cli.Main(&cli.Command{
		Name:    "xroad-node",
		Summary: "xroad-node provisions an X-Road appliance node from its role metadata and operates it afterwards.",
		Sub: []*cli.Command{
			validateCommand(),
			planCommand(),
			provisionCommand(),
			serveSyncCommand(),
			statusCommand(),
			syncCommand(),
			replayCommand(),
			maintenanceCommand(),
			upgradeCommand(),
			handoverCommand(),
			promoteCommand(),
			repointCommand(),
			rejoinCommand(),
			reseedCommand(),
			forgetCommand(),
			joinTokenCommand(),
			joinServiceCommand(),
			fenceCheckCommand(),
			cli.VersionCommand("xroad-node"),
		},
	}))
}
