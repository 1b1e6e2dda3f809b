package centralserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"xroad-appliance/provisioner/confedit"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/retry"
	"xroad-appliance/provisioner/steps"
	"xroad-appliance/units"
)

// Fenced is a database node that found another on a newer timeline: that
// one was promoted while this one was away. It is kept in the node's state
// (State.FenceFile), so the node stays fenced even when the new primary
// cannot be reached, until `xroad-node rejoin` removes it.
type Fenced struct {
	Peer         string    `json:"peer"`
	PeerTimeline int       `json:"peerTimeline"`
	Timeline     int       `json:"timeline"`
	Since        time.Time `json:"since"`
}

func (f *Fenced) Error() string {
	return fmt.Sprintf("fenced since %s: %s is on timeline %d, newer than this node's %d; it was promoted while this node was away. "+
		"PostgreSQL does not start here as a primary: run `xroad-node rejoin --primary <the new primary>` to rebuild this node as its standby",
		f.Since.Format(time.RFC3339), f.Peer, f.PeerTimeline, f.Timeline)
}

// Refused makes the command line exit with its "refused" code.
func (f *Fenced) Refused() bool { return true }

// ReadFence returns the node's fence, or nil when it is not fenced.
func ReadFence(st *nodestate.State) (*Fenced, error) {
	var f Fenced
	switch err := st.ReadRecord(st.FenceFile(), &f); {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &f, nil
}

// fence installs the drop-in that runs FenceCheck before every start of
// the database unit.
func (n *Node) fence() engine.Phase {
	f := units.FenceDropIn(n.unit())
	return steps.Files("fence", "fence-check before every start of "+n.unit(), []engine.File{
		{Path: f.Path, Mode: f.Mode, Owner: "root:root", Content: f.Content},
	}, func(ctx context.Context) error { return n.Systemd.DaemonReload(ctx) })
}

// FenceCheck decides whether PostgreSQL may start on this database node.
// Starting as a standby is always safe. Starting as a primary is refused
// once the node is fenced, or once another database node of the same
// cluster answers on a newer timeline: a second writer would split the
// central servers' data. Nodes that do not answer are asked again until
// wait has passed; if none of those that answered is ahead, the start goes
// ahead, so a primary whose standbys are all gone still comes up.
func FenceCheck(ctx context.Context, c *phase.Context, wait time.Duration, log io.Writer) error {
	n := &Node{c}
	if _, err := os.Stat(n.standbyFile().Path); err == nil {
		fmt.Fprintf(log, "fence-check: %s starts as a standby\n", n.Doc.Node)
		return nil
	}
	if f, err := ReadFence(n.State); err != nil || f != nil {
		if err != nil {
			return fmt.Errorf("fence-check: %w", err)
		}
		return f
	}
	local, err := pg.ControlData(ctx, n.Facts.PG.BinDir, n.instance().DataDir)
	if err != nil {
		return fmt.Errorf("fence-check: cannot read this node's timeline: %w", err)
	}
	pending := map[string]metadata.Host{}
	for _, h := range n.Doc.DatabaseNodes() {
		if h.Name != n.Doc.Node {
			pending[h.Name] = h
		}
	}
	failures := map[string]error{}
	// A peer that does not answer within wait is taken as down.
	err = retry.Every(ctx, 2*time.Second, wait, func(ctx context.Context) (bool, error) {
		for name, h := range pending {
			id, err := n.identify(ctx, h)
			if err != nil {
				failures[name] = err
				continue
			}
			delete(pending, name)
			delete(failures, name)
			if id.SystemID == local.SystemID && id.Timeline > local.Timeline {
				f := &Fenced{Peer: h.Name + " (" + h.Address + ")", PeerTimeline: id.Timeline, Timeline: local.Timeline, Since: time.Now().UTC()}
				if err := n.State.WriteRecord(n.State.FenceFile(), f); err != nil {
					return false, fmt.Errorf("fence-check: %w (and %v)", err, f)
				}
				return false, f
			}
		}
		return len(pending) == 0, nil
	})
	if err != nil && !errors.Is(err, retry.ErrTimedOut) {
		return err
	}
	fmt.Fprintf(log, "fence-check: %s starts as the primary on timeline %d; no other database node is ahead\n", n.Doc.Node, local.Timeline)
	var names []string
	for name := range failures {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(log, "fence-check: %s did not answer: %v\n", name, failures[name])
	}
	return nil
}

// identify asks another database node which cluster and timeline it is on,
// as the replication user; the password goes to libpq, not into a string.
func (n *Node) identify(ctx context.Context, h metadata.Host) (pg.Identity, error) {
	db := n.db()
	cfg, err := pgconn.ParseConfig(confedit.Conninfo(map[string]string{
		"host": h.Address, "port": fmt.Sprint(db.Port), "user": db.ReplicationUser, "dbname": "replication",
		"sslmode": "verify-ca", "sslrootcert": n.tls().CA, "application_name": n.Doc.Node + " fence-check", "connect_timeout": "3",
	}, "host", "port", "user", "dbname", "sslmode", "sslrootcert", "application_name", "connect_timeout"))
	if err != nil {
		return pg.Identity{}, err
	}
	cfg.Password = db.ReplicationPassword
	id, err := pg.IdentifySystem(ctx, cfg)
	if err != nil {
		return id, fmt.Errorf("%s", strings.ReplaceAll(err.Error(), db.ReplicationPassword, "<redacted>"))
	}
	return id, nil
}
