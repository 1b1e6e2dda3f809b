// Command xroad-image bakes X-Road appliance images and writes the per-node
// cloud-init seeds of a cluster.
package main

import (
	"os"

	"xroad-appliance/cmd/internal/cli"
)

func main() {
	os.Exit(cli.Main(&cli.Command{
		Name:    "xroad-image",
		Summary: "xroad-image bakes immutable X-Road appliance images and per-node cloud-init seeds.",
		Sub: []*cli.Command{
			profilesCommand(),
			renderCommand(),
			kitCommand(),
			buildCommand(),
			cli.VersionCommand("xroad-image"),
		},
	}))
}
