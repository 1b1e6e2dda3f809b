package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"xroad-appliance/cmd/internal/cli"
	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/inputfile"
	"xroad-appliance/provisioner/join"
	"xroad-appliance/provisioner/joiner"
	"xroad-appliance/provisioner/jointoken"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/operations"
	"xroad-appliance/provisioner/pemblock"
	"xroad-appliance/provisioner/securityserver"
	"xroad-appliance/units"
)

// joinPort is the primary's join service port: its document's, or the
// default where the document has no join section (a promoted secondary).
func joinPort(doc *metadata.Document) int {
	if doc.Join != nil && doc.Join.Port != 0 {
		return doc.Join.Port
	}
	return metadata.DefaultJoinPort
}

// joinStoreCheck says why this node cannot admit secondaries, or "".
func joinStoreCheck(n *operations.Node) string {
	if n.Doc.Role != metadata.RolePrimary {
		return fmt.Sprintf("%s is a secondary; secondaries join the primary %s", n.Doc.Node, n.Doc.Primary.Name)
	}
	return ""
}

func joinServiceCommand() *cli.Command {
	d := &day2{}
	return &cli.Command{
		Name:    "join-service",
		Summary: "On the primary (" + units.JoinUnit + "): admit secondaries joining by token while a token is valid",
		Flags:   d.register,
		Run: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q", args[0])
			}
			n, done, err := d.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			if why := joinStoreCheck(n); why != "" {
				n.Log.Info("not serving joins: " + why)
				return nil
			}
			store, err := join.OpenStore(n.State.JoinDir())
			if err != nil {
				return err
			}
			cert, err := tls.LoadX509KeyPair(securityserver.TLS.Cert, securityserver.TLS.Key)
			if err != nil {
				return fmt.Errorf("join service: the node's TLS identity: %w", err)
			}
			srv, err := join.NewServer(join.Config{
				Store: store, Cert: cert, Admit: n.Admit, Logger: n.Log,
				Info: join.ClusterInfo{Cluster: n.Doc.Cluster, CA: n.Doc.TLS.CA, Port: joinPort(n.Doc),
					Primary: join.Member{Name: n.Doc.Node, Address: n.Doc.Primary.Address}},
			})
			if err != nil {
				return err
			}
			ctx, stop := context.WithCancel(ctx)
			defer stop()
			if !whileTokensValid(ctx, store, n.Log, stop) {
				n.Log.Info("no valid join token; not listening")
				return nil
			}
			ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(joinPort(n.Doc))))
			if err != nil {
				return err
			}
			n.Log.Info("admitting secondaries", "port", joinPort(n.Doc), "cluster", n.Doc.Cluster)
			if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			n.Log.Info("no valid join token left; stopped listening")
			return nil
		},
	}
}

// whileTokensValid tells whether a token is valid now and, if so, calls
// stop once none is (expired or used up), checking every few seconds.
func whileTokensValid(ctx context.Context, store *join.Store, log *slog.Logger, stop func()) bool {
	if ok, err := store.Pending(time.Now()); err != nil || !ok {
		if err != nil {
			log.Warn("join tokens unreadable", "err", err)
		}
		return false
	}
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ok, err := store.Pending(time.Now()); err == nil && !ok {
					stop()
					return
				}
			}
		}
	}()
	return true
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
			if why := joinStoreCheck(n); why != "" {
				return &operations.Refusal{Reason: "join-token: " + why}
			}
			ca, err := pemblock.Certificate([]byte(n.Doc.TLS.CA))
			if err != nil {
				return err
			}
			if key != nil {
				if caPub, ok := ca.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !caPub.Equal(key.Public()) {
					return cli.UsageError{Err: fmt.Errorf("--ca-key %s: not the key of cluster %s's CA", inputfile.Name(caKey), n.Doc.Cluster)}
				}
			}
			store, err := join.OpenStore(n.State.JoinDir())
			if err != nil {
				return err
			}
			if keyPEM == nil {
				if _, err := store.CAKey(); err != nil {
					return &operations.Refusal{Reason: fmt.Sprintf("join-token: this node has no cluster CA key (%v); pass --ca-key with the kit's", err)}
				}
			}
			tok, err := jointoken.New()
			if err != nil {
				return err
			}
			seed := &metadata.JoinDocument{Version: metadata.Version, Cluster: n.Doc.Cluster, Role: metadata.RoleSecondary,
				Join: metadata.JoinTarget{Primary: n.Doc.Primary.Address, Port: joinPort(n.Doc), Token: tok.Value(), CAPin: jointoken.Pin(ca)}}
			doc, err := seed.Marshal()
			if err != nil {
				return err
			}
			userData, err := metadata.ToUserData(doc)
			if err != nil {
				return err
			}
			// The file first: a token nobody can read is no use.
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return cli.UsageError{Err: fmt.Errorf("--out: %w", err)}
			}
			if _, err := f.Write(userData); err != nil {
				f.Close()
				os.Remove(out)
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if keyPEM != nil {
				if err := store.SetCAKey(keyPEM); err != nil {
					return err
				}
			}
			now := time.Now()
			expires := now.Add(ttl).UTC().Truncate(time.Second)
			if err := store.Add(tok, expires, uses, now); err != nil {
				os.Remove(out)
				return err
			}
			if err := n.Systemd.Enable(ctx, units.JoinUnit); err != nil {
				return err
			}
			if err := n.Systemd.Restart(ctx, units.JoinUnit); err != nil {
				return err
			}
			usesText := "any number of secondaries"
			switch {
			case uses == 1:
				usesText = "one secondary"
			case uses > 1:
				usesText = fmt.Sprintf("at most %d secondaries", uses)
			}
			fmt.Printf("%s admits %s until %s; the join user-data is in %s (it holds the token: keep it like a password)\n",
				tok, usesText, expires.Format(time.RFC3339), out)
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
	doc, err = j.Join(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	return doc, origin, j, nil
}
