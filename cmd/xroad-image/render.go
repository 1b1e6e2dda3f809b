package main

import (
	"context"
	"flag"
	"fmt"

	"xroad-appliance/cmd/internal/cli"
	"xroad-appliance/profiles"
	"xroad-appliance/units"
)

func renderCommand() *cli.Command {
	var profile, pg, out string
	return &cli.Command{
		Name:    "render",
		Summary: "Write every file baked into an image for a profile, at its image path under --out",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&profile, "profile", "", "OS profile (see 'xroad-image profiles list')")
			fs.StringVar(&pg, "postgresql", "", "PostgreSQL version (default: the profile's default)")
			fs.StringVar(&out, "out", "", "directory to write into")
		},
		Run: func(_ context.Context, args []string) error {
			if profile == "" || out == "" {
				return cli.Usagef("--profile and --out are required")
			}
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q", args[0])
			}
			f, err := profiles.Resolve(profile, pg)
			if err != nil {
				return cli.UsageError{Err: err}
			}
			files, err := units.Bake(f, nil)
			if err != nil {
				return err
			}
			if err := units.WriteTree(out, files); err != nil {
				return err
			}
			for _, file := range files {
				fmt.Println(file.Path)
			}
			return nil
		},
	}
}
