package securityserver

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/confedit"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/retry"
	"xroad-appliance/provisioner/steps"
	"xroad-appliance/provisioner/system"

	"github.com/jackc/pgx/v5"
)

// PromotePlan turns a secondary into the primary; n.Doc is its promoted
// document (metadata.Document.Promoted). The steps are the primary's phases
// that a standby lacks, after PostgreSQL's own promotion; each checks first,
// so an interrupted promotion is finished by running it again.
func PromotePlan(c *phase.Context) []engine.Phase {
	n := &Node{c}
	return []engine.Phase{
		n.stopServices(), n.promoteServerconf(), n.primaryReplicationSettings(), n.localAccess(),
		n.restartServerconf(), n.roles(), n.syncUser(), n.membersRecord(), n.hostKey(), n.syncTimerOff(), n.nodeINI("master"),
		n.restoreUIGroups(), n.restartServices(),
	}
}

// RepointPlan makes a secondary follow another primary; n.Doc is its
// repointed document (metadata.Document.Repointed).
func RepointPlan(c *phase.Context) []engine.Phase {
	n := &Node{c}
	return []engine.Phase{n.sshClient(), n.standby(), n.follow()}
}

// HandoverPlan closes the primary to new replication connections: pg_hba
// without the secondaries' line, reloaded.
func HandoverPlan(c *phase.Context) []engine.Phase {
	n := &Node{c}
	return []engine.Phase{steps.Edits("replication-closed", "no new replication connections", []steps.Edit{{
		Path: n.pgHBA(), Describe: pg.HBALocal,
		Fn: func(b []byte) []byte { return confedit.SetBlock(b, pg.HBALocal, confedit.Prepend) },
	}}, n.reloadServerconf)}
}

// MembersPlan brings a primary up to the secondaries its document gained
// (`xroad-node reseed`): the WAL retention grows with them (a reload; the
// walsenders already cover the largest cluster), and each new secondary gets
// its replication role and its authorized key for the configuration sync.
func MembersPlan(c *phase.Context) []engine.Phase {
	n := &Node{c}
	return []engine.Phase{n.primaryReplicationSettings(), n.configLoaded(), n.roles(), n.syncUser(), n.membersRecord()}
}

// configLoaded makes a running instance read settings written since it last
// did: done once it loaded its configuration after postgresql.conf changed.
func (n *Node) configLoaded() engine.Phase {
	loaded := func(ctx context.Context) (bool, error) {
		st, err := os.Stat(n.pgConf())
		if err != nil {
			return false, err
		}
		conn, err := pg.Local(ctx, n.Facts.PG.Serverconf.Port, "postgres")
		if err != nil {
			return false, err
		}
		defer conn.Close(ctx)
		var at time.Time
		err = conn.QueryRow(ctx, "SELECT pg_conf_load_time()").Scan(&at)
		return err == nil && at.After(st.ModTime()), err
	}
	return engine.Phase{
		Name: "serverconf-reload", Summary: "serverconf instance runs with the settings in postgresql.conf",
		Actions: []string{"systemctl reload " + n.serverconfUnit()},
		Check:   loaded,
		Apply: func(ctx context.Context) error {
			if err := n.reloadServerconf(ctx); err != nil {
				return err
			}
			// The postmaster reads the file on SIGHUP, after reload returns.
			return retry.Every(ctx, 100*time.Millisecond, 10*time.Second, loaded)
		},
	}
}

func (n *Node) reloadServerconf(ctx context.Context) error {
	return n.Systemd.Reload(ctx, n.serverconfUnit())
}

func (n *Node) inRecovery(ctx context.Context) (bool, error) {
	conn, err := pg.Local(ctx, n.Facts.PG.Serverconf.Port, "postgres")
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	return pg.InRecovery(ctx, conn)
}

// promoteServerconf ends recovery with the profile's promote command.
func (n *Node) promoteServerconf() engine.Phase {
	cmd := n.Facts.PG.Standby.PromoteCommand
	notInRecovery := func(ctx context.Context) (bool, error) {
		in, err := n.inRecovery(ctx)
		return err == nil && !in, err
	}
	return engine.Phase{
		Name: "promote", Summary: "serverconf instance promoted out of recovery",
		Actions: []string{strings.Join(cmd, " ") + " (as " + n.Facts.PG.Standby.PromoteAs + ")"},
		Check:   notInRecovery,
		Apply: func(ctx context.Context) error {
			if _, err := system.Run(ctx, system.Cmd{Args: cmd, User: steps.RunAs(n.Facts.PG.Standby.PromoteAs)}); err != nil {
				return err
			}
			return steps.WaitFor(ctx, time.Minute, "the end of recovery", notInRecovery)
		},
	}
}

// restartServerconf restarts the instance so that the primary's
// listen_addresses takes effect; the check asks the server itself.
func (n *Node) restartServerconf() engine.Phase {
	port := n.Facts.PG.Serverconf.Port
	return engine.Phase{
		Name: "serverconf-restart", Summary: "serverconf instance listening for the secondaries",
		Actions: []string{"systemctl restart " + n.serverconfUnit()},
		Check: func(ctx context.Context) (bool, error) {
			conn, err := pg.Local(ctx, port, "postgres")
			if err != nil {
				return false, err
			}
			defer conn.Close(ctx)
			var listen string
			err = conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen)
			return err == nil && listen == "*", err
		},
		Apply: func(ctx context.Context) error {
			return pg.Restart(ctx, n.Systemd, n.serverconfUnit(), port)
		},
	}
}

// syncTimerOff stops the configuration sync: a primary is its source.
func (n *Node) syncTimerOff() engine.Phase {
	return engine.Phase{
		Name: "sync-off", Summary: "xroad-sync.timer stopped and disabled",
		Actions: []string{"systemctl disable --now xroad-sync.timer xroad-sync.service"},
		Check: func(ctx context.Context) (bool, error) {
			st, err := n.Systemd.UnitFileState(ctx, "xroad-sync.timer")
			if err != nil || st == "enabled" {
				return false, err
			}
			a, err := n.Systemd.ActiveState(ctx, "xroad-sync.timer")
			return a != "active", err
		},
		Apply: func(ctx context.Context) error {
			if err := n.Systemd.Stop(ctx, "xroad-sync.timer"); err != nil {
				return err
			}
			return n.Systemd.Disable(ctx, "xroad-sync.timer", "xroad-sync.service")
		},
	}
}

// restoreUIGroups gives the primary back the admin UI groups a secondary
// goes without (guide 3.3 step 9 undone).
func (n *Node) restoreUIGroups() engine.Phase {
	groups := n.Facts.XRoad.UIGroupsRemovedOnSecondary
	missing := func() []string {
		var m []string
		for _, g := range groups {
			if !system.GroupExists(g) {
				m = append(m, g)
			}
		}
		return m
	}
	return engine.Phase{
		Name: "ui-groups", Summary: "admin UI groups restored: " + strings.Join(groups, ", "),
		Actions: []string{"groupadd --system " + strings.Join(groups, "; groupadd --system ")},
		Check:   func(context.Context) (bool, error) { return len(missing()) == 0, nil },
		Apply: func(ctx context.Context) error {
			for _, g := range missing() {
				if _, err := system.Run(ctx, system.Cmd{Args: []string{"groupadd", "--system", g}}); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// restartServices restarts the X-Road services, which read the node type
// when they start.
func (n *Node) restartServices() engine.Phase {
	restarted := false
	return engine.Phase{
		Name: "services", Summary: "X-Road services restarted",
		Actions: []string{"systemctl restart " + strings.Join(n.Facts.XRoad.Services, " ")},
		Check:   func(context.Context) (bool, error) { return restarted, nil },
		Apply: func(ctx context.Context) error {
			for _, s := range n.Facts.XRoad.Services {
				if err := n.Systemd.Restart(ctx, s+".service"); err != nil {
					return err
				}
			}
			restarted = true
			return nil
		},
	}
}

// follow makes the standby use its new primary_conninfo: a reload where the
// server takes it (PostgreSQL 13 and later), a restart below. Done when the
// WAL receiver streams from the new primary.
func (n *Node) follow() engine.Phase {
	addr := n.Doc.Primary.Address
	verb := "restart"
	if n.Facts.PG.Standby.ConninfoReload && n.Facts.PG.Standby.Method == profiles.StandbySignal {
		verb = "reload"
	}
	// A standby following a promoted node streams the old timeline up to
	// the fork, then fetches the new timeline's history and streams again:
	// done once it streams the primary's own timeline, not in between.
	streaming := func(ctx context.Context) (bool, error) {
		host, status, err := pg.WALReceiver(ctx, n.Facts.PG.Serverconf.Port)
		if err != nil || status != "streaming" || host != addr {
			return false, err
		}
		primary, err := pg.Identify(ctx, n.primaryConninfo()+" connect_timeout=5")
		if err != nil {
			return false, nil // not answering yet: the wait goes on
		}
		tli, err := pg.ReceivedTimeline(ctx, n.Facts.PG.Serverconf.Port)
		return err == nil && tli == primary.Timeline, err
	}
	return engine.Phase{
		Name: "follow", Summary: "WAL streamed from " + addr,
		Actions: []string{"systemctl " + verb + " " + n.serverconfUnit()},
		Check:   streaming,
		Apply: func(ctx context.Context) error {
			var err error
			if verb == "reload" {
				err = n.Systemd.Reload(ctx, n.serverconfUnit())
			} else {
				err = n.Systemd.Restart(ctx, n.serverconfUnit())
			}
			if err != nil {
				return err
			}
			return steps.WaitFor(ctx, n.PrimaryWait, "WAL from "+addr, streaming)
		},
	}
}

// ForgetPlan lets the secondaries its document no longer lists out of the
// primary (`xroad-node forget`): their replication roles are dropped (a
// walsender of theirs is ended first), their keys leave the sync user's
// authorized_keys, the WAL retention shrinks and the replicated record
// follows.
func ForgetPlan(c *phase.Context) []engine.Phase {
	n := &Node{c}
	return []engine.Phase{n.primaryReplicationSettings(), n.configLoaded(), n.syncUser(), n.formerRolesDropped(), n.membersRecord()}
}

// formerRolesDropped drops the replication roles of slavenode whose node
// the document no longer lists: only roles this program made (guide 4.3's
// slavenode members), never another.
func (n *Node) formerRolesDropped() engine.Phase {
	port := n.Facts.PG.Serverconf.Port
	listed := []string{}
	for _, s := range n.Doc.Secondaries {
		listed = append(listed, s.Name)
	}
	const former = "SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid " +
		"WHERE g.rolname = 'slavenode' AND NOT (r.rolname = ANY($1)) ORDER BY 1"
	formerRoles := func(ctx context.Context, conn *pgx.Conn) ([]string, error) {
		rows, err := conn.Query(ctx, former, listed)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
	return engine.Phase{
		Name: "former-roles", Summary: "replication roles of secondaries no longer listed dropped",
		Actions: []string{"DROP ROLE <former> (members of slavenode not listed)", "SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE usename = <former>"},
		Check: func(ctx context.Context) (bool, error) {
			conn, err := pg.Local(ctx, port, "postgres")
			if err != nil {
				return false, err
			}
			defer conn.Close(ctx)
			left, err := formerRoles(ctx, conn)
			return err == nil && len(left) == 0, err
		},
		Apply: func(ctx context.Context) error {
			conn, err := pg.Local(ctx, port, "postgres")
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			left, err := formerRoles(ctx, conn)
			if err != nil {
				return err
			}
			for _, r := range left {
				// Dropped first, so that the ended walsender cannot log in again.
				if _, err := conn.Exec(ctx, "DROP ROLE "+pg.Ident(r)); err != nil {
					return fmt.Errorf("dropping role %s: %w", r, err)
				}
				if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE usename = $1", r); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
