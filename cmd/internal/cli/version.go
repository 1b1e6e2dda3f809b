package cli

import (
	"context"
	"fmt"
	"runtime/debug"
)

// Version is set at link time (-X xroad-appliance/cmd/internal/cli.Version=...).
var Version = "dev"

// VersionCommand prints the program's version and the VCS revision it was built from.
func VersionCommand(program string) *Command {
	return &Command{
		Name:    "version",
		Summary: "Print the version",
		Run: func(context.Context, []string) error {
			rev := ""
			if info, ok := debug.ReadBuildInfo(); ok {
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						rev = " (" + s.Value + ")"
					}
				}
			}
			fmt.Printf("%s %s%s\n", program, Version, rev)
			return nil
		},
	}
}
