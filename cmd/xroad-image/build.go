package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"xroad-appliance/builder/outdir"

	"xroad-appliance/builder/bake"
	"xroad-appliance/builder/definition"
	"xroad-appliance/builder/progress"
	"xroad-appliance/cmd/internal/cli"
)

func buildCommand() *cli.Command {
	var (
		o                      definition.Overrides
		outputs                string
		out, cacheDir, nodeBin string
		force, asJSON          bool
	)
	return &cli.Command{
		Name: "build", Summary: "Bake an appliance image from an image definition: base, X-Road packages, appliance layer, outputs", Args: "DEFINITION.yaml",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&out, "out", "", "output directory (required)")
			fs.StringVar(&o.Profile, "profile", "", "OS profile (default: the definition's profile)")
			fs.StringVar(&o.PostgreSQL, "postgresql", "", "PostgreSQL version of the profile")
			fs.StringVar(&o.XRoadVersion, "xroad-version", "", "X-Road version pin")
			fs.StringVar(&o.Base, "base", "", "base: bootstrap, image:REF, oci-layout:DIR[@NAME] or rootfs:DIR")
			fs.StringVar(&outputs, "output", "", "comma-separated outputs: "+strings.Join(definition.Outputs, ", "))
			fs.StringVar(&o.Push, "push", "", "push the image to this registry reference (adds the registry output)")
			fs.StringVar(&o.RepoDir, "repo", "", "local repository directory replacing the profile's X-Road repository")
			fs.StringVar(&o.RepoURL, "repo-url", "", "repository URL replacing the profile's X-Road repository")
			fs.StringVar(&o.RepoKeyring, "repo-keyring", "", "public key that signs the --repo or --repo-url repository")
			fs.StringVar(&o.Suite, "repo-suite", "", "apt suite of the replacing repository (default: the profile's)")
			fs.BoolVar(&o.Offline, "offline", false, "fetch nothing but the replacing repository; the base has every other package")
			fs.StringVar(&o.SourceDateEpoch, "source-date-epoch", "", "every timestamp in the image, in seconds (default: $SOURCE_DATE_EPOCH, else the definition's)")
			fs.StringVar(&nodeBin, "node-binary", "", "xroad-node executable to bake (default: built from the checkout holding the definition)")
			fs.StringVar(&cacheDir, "cache", "", "cache directory (default: $XROAD_IMAGE_CACHE, else ~/.cache/xroad-image)")
			fs.BoolVar(&force, "force", false, "replace a non-empty output directory (the old one is moved aside, never deleted)")
			fs.BoolVar(&asJSON, "json", false, "print a JSON summary (digests, sizes, paths) on standard output")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 || out == "" {
				return cli.Usagef("expected an image definition file and --out")
			}
			d, err := definition.Load(args[0])
			if err != nil {
				return cli.UsageError{Err: err}
			}
			if outputs != "" {
				o.Outputs = strings.Split(outputs, ",")
			}
			if o.SourceDateEpoch == "" && os.Getenv("SOURCE_DATE_EPOCH") != "" {
				o.SourceDateEpoch, o.SourceDateEpochFrom = os.Getenv("SOURCE_DATE_EPOCH"), "$SOURCE_DATE_EPOCH"
			}
			if err := d.Apply(o); err != nil {
				return cli.UsageError{Err: err}
			}
			r, err := d.Resolve()
			if err != nil {
				return cli.UsageError{Err: err}
			}
			// Interrupted builds stop their tools and undo their mounts.
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := bake.Run(ctx, bake.Options{
				Definition: r, OutDir: out, Force: force, CacheRoot: cacheDir, NodeBinary: nodeBin,
				Version: cli.Version, Progress: progress.To(os.Stderr),
			})
			if errors.Is(err, outdir.ErrNotEmpty) {
				return cli.UsageError{Err: err}
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			fmt.Printf("%s %s\n", res.Image, res.ManifestDigest)
			for _, o := range res.Outputs {
				fmt.Printf("  %-16s %s%s\n", o.Kind, o.Path, o.Ref)
			}
			return nil
		},
	}
}
