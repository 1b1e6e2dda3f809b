package main

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"xroad-appliance/cmd/internal/cli"
	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/inputfile"
	"xroad-appliance/provisioner/joiner"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/operations"
	"xroad-appliance/provisioner/pemblock"
	"xroad-appliance/units"
)

func joinServiceCommand() *cli.Command {
	d := &day2{}
	return d.action("join-service", "On the primary ("+units.JoinUnit+"): admit secondaries joining by token while a token is valid", nil,
		func(n *operations.Node, ctx context.Context) error { return n.ServeJoins(ctx) })
}

func joinTokenCommand() *cli.Command {
	d := &day2{}
	var out, caKey string
	var ttl time.Duration
	var uses int
	return &cli.Command{
		Name:    "join-token",
		Summary: "On the primary: make a join token and write the one user-data every joining secondary boots with",
		Flags: func(fs *flag.FlagSet) {
			d.register(fs)
			fs.StringVar(&out, "out", "", "where to write the join user-data (a new file, mode 0600)")
			fs.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
			fs.IntVar(&uses, "uses", 0, "how many secondaries may join with it (0: any number until it expires)")
			fs.StringVar(&caKey, "ca-key", "", "the cluster CA's private key (PEM), once on a node that has none (a promoted secondary)")
		},
		Run: func(ctx context.Context, args []string) error {
			switch {
			case len(args) > 0:
				return cli.Usagef("unexpected argument %q", args[0])
			case out == "":
				return cli.Usagef("--out: required (the join user-data file to write)")
			case ttl <= 0:
				return cli.Usagef("--ttl: must be positive")
			case uses < 0:
				return cli.Usagef("--uses: must be 0 or more")
			}
			if _, err := os.Lstat(out); !errors.Is(err, fs.ErrNotExist) {
				return cli.UsageError{Err: fmt.Errorf("--out %s: exists; name a new file", out)}
			}
			var keyPEM []byte
			var key crypto.Signer
			if caKey != "" {
				var err error
				if keyPEM, key, err = readCAKey(caKey); err != nil {
					return err
				}
			}
			n, done, err := d.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			if key != nil {
				ca, err := pemblock.Certificate([]byte(n.Doc.TLS.CA))
				if err != nil {
					return err
				}
				if !pemblock.SamePublicKey(ca.PublicKey, key.Public()) {
					return cli.UsageError{Err: fmt.Errorf("--ca-key %s: not the key of cluster %s's CA", inputfile.Name(caKey), n.Doc.Cluster)}
				}
			}
			if err := n.JoinToken(ctx, ttl, uses, keyPEM, out); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return cli.UsageError{Err: fmt.Errorf("--out %s: exists; name a new file", out)}
				}
				return err
			}
			return nil
		},
	}
}

// readCAKey reads the CA key given on the command line: a PEM private key
// that can sign.
func readCAKey(path string) ([]byte, crypto.Signer, error) {
	b, err := inputfile.Read(path)
	if err != nil {
		return nil, nil, cli.UsageError{Err: fmt.Errorf("--ca-key: %w", err)}
	}
	key, err := pemblock.Key(b)
	signer, ok := key.(crypto.Signer)
	if err != nil || !ok {
		return nil, nil, cli.UsageError{Err: fmt.Errorf("--ca-key %s: not a PEM private key", inputfile.Name(path))}
	}
	return b, signer, nil
}

// loadOrJoin is the node's role document: frozen, from its seed, or, when
// the seed is a join document, granted by the primary it joins.
func loadOrJoin(ctx context.Context, st *nodestate.State, f *profiles.Facts, explicit string, wait time.Duration, log *slog.Logger) (*metadata.Document, string, *joiner.Joiner, error) {
	doc, seed, origin, err := metadata.LoadSeed(st.Sources(), explicit)
	if err != nil {
		return nil, "", nil, cli.UsageError{Err: err}
	}
	if seed == nil {
		return doc, origin, nil, nil
	}
	name, source, err := metadata.InstanceName(st.Root())
	if err != nil {
		return nil, "", nil, cli.UsageError{Err: err}
	}
	j := &joiner.Joiner{Seed: seed, Name: name, Facts: f, Dir: st.JoinDir(), Wait: wait, Log: log}
	log.Info("joining the cluster by token", "origin", origin, "cluster", seed.Cluster, "primary", seed.Join.Primary,
		"port", seed.Join.Port, "node", name, "named by", source)
	start := time.Now()
	doc, err = j.Join(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	log.Info("joined the cluster", "node", name, "primary", doc.Primary.Name, "seconds", fmt.Sprintf("%.2f", time.Since(start).Seconds()))
	return doc, origin, j, nil
}
