package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"xroad-appliance/cmd/internal/cli"
	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/inputfile"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/operations"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/roles"
	"xroad-appliance/provisioner/syncserve"
	"xroad-appliance/provisioner/system"
	"xroad-appliance/units"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name: "validate", Summary: "Check a role metadata document or a join document (or the user-data carrying it) offline", Args: "FILE",
		Run: func(_ context.Context, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("expected one metadata file")
			}
			doc, seed, err := readSeed(args[0])
			if err != nil {
				return err
			}
			if seed != nil {
				fmt.Printf("%s: valid join document for cluster %s: primary %s, join port %d, CA pin %s\n",
					args[0], seed.Cluster, seed.Join.Primary, seed.Join.Port, seed.Join.CAPin)
				return nil
			}
			fmt.Printf("%s: valid %s document for node %s of cluster %s\n", args[0], doc.Role, doc.Node, doc.Cluster)
			return nil
		},
	}
}

// oneDocument is readDocument of a command's one argument.
func oneDocument(args []string) (*metadata.Document, error) {
	if len(args) != 1 {
		return nil, cli.Usagef("expected one metadata file")
	}
	return readDocument(args[0])
}

// readDocument is readSeed for commands that take a role document only.
func readDocument(path string) (*metadata.Document, error) {
	doc, seed, err := readSeed(path)
	if err == nil && seed != nil {
		err = cli.UsageError{Err: fmt.Errorf("%s: %w", inputfile.Name(path), metadata.ErrJoinDocument)}
	}
	return doc, err
}

// readSeed reads a role document, a join document or the user-data
// carrying either with the checks a node applies at first boot: the same
// size bounds, one YAML document, the same write_files rules and the same
// strict parse.
func readSeed(path string) (*metadata.Document, *metadata.JoinDocument, error) {
	data, err := inputfile.Read(path)
	if err != nil {
		return nil, nil, cli.UsageError{Err: err}
	}
	if data, err = metadata.FromUserData(data); err != nil {
		return nil, nil, cli.UsageError{Err: fmt.Errorf("%s: %w", inputfile.Name(path), err)}
	}
	doc, seed, err := metadata.ParseSeed(data)
	if err != nil {
		return nil, nil, cli.UsageError{Err: fmt.Errorf("%s: %w", inputfile.Name(path), err)}
	}
	return doc, seed, nil
}

// nodeRoot is where the node's file system, and so its state, is.
const nodeRoot = "/"

// factsFlags are how a command finds the platform facts: the image's baked
// facts by default, or a named profile (for planning off the node).
type factsFlags struct{ profile, pg string }

func (f *factsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.profile, "profile", "", "OS profile (default: the facts baked into this image, "+nodestate.FactsFile+")")
	fs.StringVar(&f.pg, "postgresql", "", "PostgreSQL version with --profile")
}

func (f *factsFlags) load(st *nodestate.State) (*profiles.Facts, error) {
	if f.profile != "" {
		facts, err := profiles.Resolve(f.profile, f.pg)
		if err != nil {
			return nil, cli.UsageError{Err: err}
		}
		return facts, nil
	}
	facts, err := st.Facts()
	if unreadable := new(*inputfile.Error); errors.As(err, unreadable) {
		return nil, cli.Usagef("no --profile given and no baked facts: %v", err)
	}
	return facts, err
}

func planCommand() *cli.Command {
	var facts factsFlags
	return &cli.Command{
		Name: "plan", Summary: "Print the phases for a metadata document and every file each would write, touching nothing", Args: "FILE",
		Flags: facts.register,
		Run: func(_ context.Context, args []string) error {
			doc, err := oneDocument(args)
			if err != nil {
				return err
			}
			st := nodestate.Open(nodeRoot)
			f, err := facts.load(st)
			if err != nil {
				return err
			}
			phases, err := roles.Provisioning(&phase.Context{Doc: doc, Facts: f, State: st})
			if err != nil {
				return err
			}
			printPlan(phases)
			return nil
		},
	}
}

func printPlan(phases []engine.Phase) {
	for i, p := range phases {
		fmt.Printf("== %d. %s: %s\n", i+1, p.Name, p.Summary)
		for _, a := range p.Actions {
			fmt.Printf("   run: %s\n", strings.ReplaceAll(strings.TrimRight(a, "\n"), "\n", "\n        "))
		}
		for _, f := range p.Files {
			fmt.Printf("   file: %s (mode %04o, owner %s)\n", f.Path, f.Mode, f.Owner)
			if f.Secret {
				fmt.Printf("        <secret, %d bytes, not shown>\n", len(f.Content))
				continue
			}
			for _, line := range strings.Split(strings.TrimRight(string(f.Content), "\n"), "\n") {
				fmt.Printf("        | %s\n", line)
			}
		}
	}
}

func provisionCommand() *cli.Command {
	var facts factsFlags
	var metadataFile, only string
	var primaryWait, secondariesWait time.Duration
	return &cli.Command{
		Name: "provision", Summary: "Provision this node for its role, resuming where a previous run stopped",
		Flags: func(fs *flag.FlagSet) {
			facts.register(fs)
			fs.StringVar(&metadataFile, "metadata", "", "role metadata file (default: the frozen copy, the cloud-init role file, or a NoCloud seed)")
			fs.StringVar(&only, "phase", "", "run only this phase, even if done (repair)")
			fs.DurationVar(&primaryWait, "primary-wait", 20*time.Minute, "how long a secondary waits for its primary")
			fs.DurationVar(&secondariesWait, "secondaries-wait", 20*time.Minute, "how long the primary waits for its secondaries to stream")
		},
		Run: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q", args[0])
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			st := nodestate.Open(nodeRoot)
			f, err := facts.load(st)
			if err != nil {
				return err
			}
			doc, origin, joined, err := loadOrJoin(ctx, st, f, metadataFile, primaryWait, log)
			if err != nil {
				return err
			}
			log.Info("role metadata", "origin", origin, "document", doc)
			if err := st.Freeze(doc); err != nil {
				return err
			}
			if joined != nil {
				// The frozen document holds the keys now.
				if err := joined.Forget(); err != nil {
					return err
				}
			}
			sd, err := system.ConnectSystemd(ctx)
			if err != nil {
				return err
			}
			defer sd.Close()
			c := &phase.Context{Doc: doc, Facts: f, Systemd: sd, State: st, Log: log, Out: os.Stdout,
				PrimaryWait: primaryWait, FollowersWait: secondariesWait}
			phases, err := roles.Provisioning(c)
			if err != nil {
				return err
			}
			runner := &engine.Runner{State: st, Log: log, Notify: system.Notify, Command: units.NodeBinary + " provision",
				AfterPhase: crashAfter(os.Getenv(CrashAfterEnv))}
			if only != "" {
				// After promote or repoint the provisioning plan describes
				// a place the node has left; rerunning a phase would undo it.
				if topo, err := st.Topology(); err != nil {
					return err
				} else if topo != nil {
					return &operations.Refusal{Reason: fmt.Sprintf("provision --phase: this node was changed by `xroad-node %s` at %s; its provisioning phases no longer apply",
						topo.By, topo.Changed.Format(time.RFC3339))}
				}
				return runner.RunPhase(ctx, phases, only)
			}
			return runner.Run(ctx, phases)
		},
	}
}

func serveSyncCommand() *cli.Command {
	return &cli.Command{
		Name: "serve-sync", Summary: "Forced SSH command on the primary: serve a read-only rsync of /etc/xroad, recording the member's sync",
		Args: "[MEMBER]",
		Run: func(_ context.Context, args []string) error {
			if len(args) > 1 {
				return cli.Usagef("expected at most one member name")
			}
			argv, err := syncserve.Command(os.Getenv("SSH_ORIGINAL_COMMAND"))
			if err != nil {
				return err
			}
			if len(args) == 1 {
				recordSeen(args[0])
			}
			return syscall.Exec(argv[0], argv, os.Environ())
		},
	}
}

// recordSeen notes that member started a sync, for status on the primary.
// A failure is only logged (stderr reaches the secondary's journal; stdout
// is rsync's protocol): the record must never stop the sync.
func recordSeen(member string) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "serve-sync: sync not recorded: %v\n", p)
		}
	}()
	home, err := syncHome()
	if err == nil {
		err = syncserve.Seen(home, member, time.Now())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "serve-sync: sync not recorded: %s\n", cli.Printable(err.Error()))
	}
}

// syncHome is the sync user's home as the baked facts say, where status
// reads the records; else $HOME, which sshd sets to the account's home.
func syncHome() (string, error) {
	f, err := nodestate.Open(nodeRoot).Facts()
	switch {
	case err == nil && f.SyncUser.Home != "":
		return f.SyncUser.Home, nil
	case err == nil:
		err = errors.New("they name no home")
	}
	if home := os.Getenv("HOME"); home != "" {
		return home, nil
	}
	return "", fmt.Errorf("the sync user's home is unknown: no $HOME and no baked facts (%v)", err)
}

// CrashAfterEnv names a phase after whose stamp the provisioner SIGKILLs
// itself: fault injection, so crash recovery at every phase boundary can be
// tested on a real node.
const CrashAfterEnv = "XROAD_NODE_CRASH_AFTER"

func crashAfter(phase string) func(string) {
	if phase == "" {
		return nil
	}
	return func(done string) {
		if done == phase {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}
