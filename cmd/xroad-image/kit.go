package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"
	"xroad-appliance/builder/outdir"

	"xroad-appliance/builder/kit"
	"xroad-appliance/cmd/internal/cli"
	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/inputfile"
)

func kitCommand() *cli.Command {
	var profile, pg, out string
	var force, reuse bool
	return &cli.Command{
		Name: "kit", Summary: "Generate a cluster's CA, certificates, keys, passwords and per-node NoCloud seeds from a security-server or central-server cluster spec", Args: "SPEC.yaml",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&profile, "profile", "", "OS profile (default: the spec's profile)")
			fs.StringVar(&pg, "postgresql", "", "PostgreSQL version of the profile")
			fs.StringVar(&out, "out", "", "output directory")
			fs.BoolVar(&force, "force", false, "replace an existing kit (the old one is moved aside, never deleted)")
			fs.BoolVar(&reuse, "reuse", false, "keep the existing CA, keys and passwords; generate only new nodes' material (the primary may move to a node of the kit)")
		},
		Run: func(_ context.Context, args []string) error {
			if len(args) != 1 || out == "" {
				return cli.Usagef("expected a cluster spec file and --out")
			}
			data, err := inputfile.Read(args[0])
			if err != nil {
				return cli.UsageError{Err: err}
			}
			spec, err := kit.ParseSpec(data)
			if err != nil {
				return cli.UsageError{Err: fmt.Errorf("%s: %w", inputfile.Name(args[0]), err)}
			}
			var facts *profiles.Facts
			if profile != "" {
				if facts, err = profiles.Resolve(profile, pg); err != nil {
					return cli.UsageError{Err: err}
				}
			}
			res, err := kit.Generate(*spec, facts, out, kit.Options{Force: force, Reuse: reuse})
			var fe *kit.FieldError
			if errors.As(err, &fe) {
				// The spec does not fit the profile: the caller's to fix,
				// and nothing was written.
				return cli.UsageError{Err: fmt.Errorf("%s: %w", inputfile.Name(args[0]), err)}
			}
			if errors.Is(err, outdir.ErrNotEmpty) {
				return cli.UsageError{Err: err}
			}
			if err != nil {
				return err
			}
			for _, n := range res.Nodes {
				fmt.Printf("%-14s %-10s %-16s %s\n", n.Role, n.Name, n.Address, n.SeedISO)
			}
			if j := res.Join; j != nil {
				// The token by ID only: its secret stays in the files.
				fmt.Printf("joining secondaries boot with %s (token %s, valid until %s)\n", j.UserData, j.TokenID, j.Expires.Format(time.RFC3339))
			}
			if res.AdminPassword != "" {
				// Shown this once: the kit holds only the hash.
				fmt.Printf("X-Road admin user %s, password %s (not stored; note it now)\n", res.AdminUser, res.AdminPassword)
			}
			return nil
		},
	}
}
