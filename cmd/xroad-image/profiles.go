package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"xroad-appliance/cmd/internal/cli"
	"xroad-appliance/profiles"
)

func profilesCommand() *cli.Command {
	return &cli.Command{
		Name:    "profiles",
		Summary: "List the OS profiles or show one's resolved facts",
		Run: func(context.Context, []string) error {
			return listProfiles()
		},
		Sub: []*cli.Command{
			{
				Name:    "list",
				Summary: "List the OS profiles",
				Run: func(context.Context, []string) error {
					return listProfiles()
				},
			},
			profilesShowCommand(),
		},
	}
}

func listProfiles() error {
	all, err := profiles.All()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tPOSTGRESQL\tOTHER VERSIONS\tSERVERCONF\tSTANDBY\tSSH KEY\tLEGACY")
	for _, p := range all {
		f, _ := p.Resolve("")
		var others []string
		for _, v := range p.VersionNames() {
			if v != f.PostgreSQLVersion {
				others = append(others, v)
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%v\n", p.Name, f.PostgreSQLVersion, dash(strings.Join(others, ",")),
			f.PG.Serverconf.Method, f.PG.Standby.Method, f.SSH.KeyType, p.Legacy)
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func profilesShowCommand() *cli.Command {
	var pg string
	return &cli.Command{
		Name:    "show",
		Summary: "Print a profile's resolved facts as YAML",
		Args:    "NAME",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&pg, "postgresql", "", "PostgreSQL version to resolve (default: the profile's default)")
		},
		Run: func(_ context.Context, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("expected one profile name")
			}
			f, err := profiles.Resolve(args[0], pg)
			if err != nil {
				return cli.UsageError{Err: err}
			}
			out, err := yaml.Marshal(f)
			if err != nil {
				return err
			}
			_, err = os.Stdout.Write(out)
			return err
		},
	}
}
