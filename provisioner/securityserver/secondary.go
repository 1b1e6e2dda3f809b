package securityserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/confedit"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/steps"
	"xroad-appliance/provisioner/system"
	"xroad-appliance/units"
)

// xroadHome is the xroad user's home, where ssh looks for its key and known_hosts.
func xroadHome() string {
	if ids, err := system.LookupIDs("xroad"); err == nil {
		return ids.Home
	}
	return "/var/lib/xroad"
}

// sshClient installs the xroad user's key pair (guide 3.3 step 5), pins the
// primary's host key (never StrictHostKeyChecking=no) and points the sync
// unit at the primary.
func (n *Node) sshClient() engine.Phase {
	home := xroadHome()
	keyName := "id_" + n.Facts.SSH.KeyType
	drop, err := units.SyncPrimary(n.Doc.Primary.Address)
	files := []engine.File{
		{Path: home + "/.ssh/" + keyName, Mode: 0o600, Owner: "xroad:xroad", Content: []byte(n.Doc.SSH.PrivateKey), Secret: true},
		{Path: home + "/.ssh/" + keyName + ".pub", Mode: 0o644, Owner: "xroad:xroad", Content: []byte(strings.TrimSpace(n.Doc.SSH.PublicKey) + "\n")},
		{Path: home + "/.ssh/known_hosts", Mode: 0o600, Owner: "xroad:xroad", Content: []byte(n.Doc.Primary.Address + " " + strings.TrimSpace(n.Doc.Primary.HostKey) + "\n")},
		{Path: drop.Path, Mode: drop.Mode, Owner: "root:root", Content: drop.Content},
	}
	p := steps.Files("ssh", "xroad's SSH key, the primary's pinned host key, the sync target", files, func(ctx context.Context) error {
		return n.Systemd.DaemonReload(ctx)
	})
	prepare := func(ctx context.Context) error {
		if err != nil { // validated metadata never gets here; keep the guard
			return err
		}
		return system.MkdirOwned(home+"/.ssh", 0o700, "xroad:xroad")
	}
	p.Apply = steps.Chain(prepare, p.Apply)
	return p
}

// waitPrimary waits, with bounded jittered backoff, until the primary answers
// a replication connection as this node: certificate, user and pg_hba proven.
func (n *Node) waitPrimary() engine.Phase {
	conninfo := confedit.Conninfo(pg.ReplicationConninfo(n.Doc.Primary.Address, n.primaryPort(), n.Doc.Node, n.tls()), pg.ConninfoOrder...)
	reachable := func(ctx context.Context) (bool, error) {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := pg.PrimarySystemID(c, conninfo+" connect_timeout=5"); err != nil {
			return false, err
		}
		conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(c, "tcp", net.JoinHostPort(n.Doc.Primary.Address, "22"))
		if err != nil {
			return false, err
		}
		conn.Close()
		return true, nil
	}
	return engine.Phase{
		Name: "wait-primary", Summary: "primary " + n.Doc.Primary.Address + " answers replication and SSH",
		Actions: []string{"IDENTIFY_SYSTEM over " + conninfo, "TCP connect " + n.Doc.Primary.Address + ":22"},
		// Unreachable is "not done yet", not a failure: Apply waits for it.
		Check: func(ctx context.Context) (bool, error) {
			ok, _ := reachable(ctx)
			return ok, nil
		},
		Apply: func(ctx context.Context) error {
			return steps.WaitFor(ctx, n.PrimaryWait, "primary "+n.Doc.Primary.Address, reachable)
		},
	}
}

// standbySettings are guide 4.4's postgresql.conf settings for a secondary.
func (n *Node) standbySettings() string {
	lines := append(n.tls().Settings(),
		"listen_addresses = localhost",
		"hot_standby = on",
		"hot_standby_feedback = on",
		fmt.Sprintf("max_wal_senders = %d", walSenders),
	)
	if n.Facts.PG.Standby.Method == profiles.StandbySignal {
		lines = append(lines, "primary_conninfo = "+confedit.PGString(n.primaryConninfo()))
	}
	return strings.Join(lines, "\n")
}

func (n *Node) primaryConninfo() string {
	return confedit.Conninfo(pg.ReplicationConninfo(n.Doc.Primary.Address, n.primaryPort(), n.Doc.Node, n.tls()), pg.ConninfoOrder...)
}

// recoveryConf is guide 4.4's recovery.conf below PostgreSQL 12, with
// recovery_target_timeline = 'latest' (12's default): without it a standby
// repointed to a promoted secondary stays on the old timeline and never
// streams again ("End of WAL reached on timeline 1", seen on 10.23).
func (n *Node) recoveryConf() []byte {
	return []byte("standby_mode = 'on'\nprimary_conninfo = " + confedit.PGString(n.primaryConninfo()) +
		"\ntrigger_file = " + confedit.PGString(n.Facts.PG.Standby.TriggerFile) + "\nrecovery_target_timeline = 'latest'\n")
}

// standbyFile is standby.signal or recovery.conf, 0600 postgres:postgres.
func (n *Node) standbyFile() engine.File {
	dir := n.Facts.PG.Serverconf.DataDir
	if n.Facts.PG.Standby.Method == profiles.RecoveryConf {
		return engine.File{Path: dir + "/recovery.conf", Mode: 0o600, Owner: "postgres:postgres", Content: n.recoveryConf()}
	}
	return engine.File{Path: dir + "/standby.signal", Mode: 0o600, Owner: "postgres:postgres", Content: []byte{}}
}

func (n *Node) standby() engine.Phase {
	f := n.standbyFile()
	files := steps.Files("standby-file", "", []engine.File{f}, nil)
	conf := steps.Edits("standby-conf", "", []steps.Edit{{
		Path: n.pgConf(), Describe: n.standbySettings() + "\n",
		Fn: func(b []byte) []byte { return confedit.SetBlock(b, n.standbySettings(), confedit.Append) },
	}}, nil)
	return engine.Phase{
		Name: "standby", Summary: "hot standby of the primary (" + string(n.Facts.PG.Standby.Method) + ")",
		Files: []engine.File{f}, Actions: conf.Actions,
		Check: func(ctx context.Context) (bool, error) {
			a, err := files.Check(ctx)
			if err != nil || !a {
				return false, err
			}
			return conf.Check(ctx)
		},
		Apply: steps.Chain(files.Apply, conf.Apply),
	}
}

// initialSync is guide 3.3 step 6, run as xroad with the sync unit's excludes.
func (n *Node) initialSync() engine.Phase {
	args := []string{"rsync", "-e", "ssh -o ConnectTimeout=5", "-az", "--delete", "--timeout=30"}
	for _, e := range units.SyncExcludes {
		args = append(args, "--exclude", e)
	}
	args = append(args, "xroad-slave@"+n.Doc.Primary.Address+":/etc/xroad/", "/etc/xroad/")
	stamp := n.State.InitialSyncStamp()
	return engine.Phase{
		Name: "initial-sync", Summary: "first copy of /etc/xroad from the primary",
		Actions: []string{strings.Join(args, " ") + " (as xroad)"},
		Check: func(context.Context) (bool, error) {
			_, err := os.Stat(stamp)
			return err == nil, nil
		},
		// The primary may still be provisioning: its sync user and pinned host
		// key come after the replication roles wait-primary saw, so a refused
		// connection is retried every half second until PrimaryWait runs out: a
		// try is an SSH login on the primary, which is still provisioning.
		Apply: func(ctx context.Context) error {
			err := steps.WaitEvery(ctx, time.Second/2, n.PrimaryWait, "the primary's /etc/xroad over SSH", func(ctx context.Context) (bool, error) {
				_, err := system.Run(ctx, system.Cmd{User: "xroad", Args: args})
				return err == nil, err
			})
			if err != nil {
				return err
			}
			return n.State.Stamp(stamp)
		},
	}
}

// syncTimer enables the periodic sync (guide 5.2.1).
func (n *Node) syncTimer() engine.Phase {
	return engine.Phase{
		Name: "sync", Summary: "xroad-sync.timer enabled and started",
		Actions: []string{"systemctl enable xroad-sync.timer xroad-sync.service", "systemctl start xroad-sync.timer"},
		Check: func(ctx context.Context) (bool, error) {
			st, err := n.Systemd.UnitFileState(ctx, "xroad-sync.timer")
			if err != nil || st != "enabled" {
				return false, err
			}
			a, err := n.Systemd.ActiveState(ctx, "xroad-sync.timer")
			return a == "active", err
		},
		Apply: func(ctx context.Context) error {
			if err := n.Systemd.Enable(ctx, "xroad-sync.timer", "xroad-sync.service"); err != nil {
				return err
			}
			return n.Systemd.Start(ctx, "xroad-sync.timer")
		},
	}
}

// uiGroups removes the admin UI groups that could edit a secondary's
// configuration (guide 3.3 step 9); xroad-security-officer stays for PINs.
func (n *Node) uiGroups() engine.Phase {
	groups := n.Facts.XRoad.UIGroupsRemovedOnSecondary
	return engine.Phase{
		Name: "ui-groups", Summary: "admin UI groups removed: " + strings.Join(groups, ", "),
		Actions: []string{"groupdel " + strings.Join(groups, "; groupdel ")},
		Check: func(context.Context) (bool, error) {
			for _, g := range groups {
				if system.GroupExists(g) {
					return false, nil
				}
			}
			return true, nil
		},
		Apply: func(ctx context.Context) error {
			for _, g := range groups {
				if system.GroupExists(g) {
					if _, err := system.Run(ctx, system.Cmd{Args: []string{"groupdel", g}}); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}

// verifySecondary waits until the standby is in recovery and has replayed
// all it received.
func (n *Node) verifySecondary() engine.Phase {
	fn := n.Facts.PG.Functions
	// Caught up, and a WAL receiver streaming now: a standby whose primary
	// no longer has the WAL it needs starts a receiver every few seconds
	// that dies at once, while receive and replay positions look equal.
	streaming := "EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')"
	if _, lacks := n.Facts.PG.Lacks[profiles.FeatureWALReceiverView]; lacks {
		streaming = "true"
	}
	q := fmt.Sprintf("SELECT pg_is_in_recovery(), %s() IS NOT NULL AND %s() = %s() AND %s", fn.LastReceive, fn.LastReceive, fn.LastReplay, streaming)
	caughtUp := func(ctx context.Context) (bool, error) {
		conn, err := pg.Local(ctx, n.Facts.PG.Serverconf.Port, "postgres")
		if err != nil {
			return false, err
		}
		defer conn.Close(ctx)
		var inRecovery, same bool
		if err := conn.QueryRow(ctx, q).Scan(&inRecovery, &same); err != nil {
			return false, err
		}
		if !inRecovery {
			return false, fmt.Errorf("the serverconf instance is not in recovery")
		}
		return same, nil
	}
	return engine.Phase{
		Name: "verify", Summary: "in recovery, streaming, receive = replay LSN", Actions: []string{q},
		Check: caughtUp,
		Apply: func(ctx context.Context) error {
			return steps.WaitFor(ctx, n.PrimaryWait, "the standby to catch up", caughtUp)
		},
	}
}
