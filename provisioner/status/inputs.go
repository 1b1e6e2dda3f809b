package status

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/system"
	"xroad-appliance/units"
)

// UnitStater tells a systemd unit's ActiveState; *system.Systemd is one.
type UnitStater interface {
	ActiveState(ctx context.Context, name string) (string, error)
}

// Inputs are everything the probes read. NodeInputs fills them for this machine;
// tests point them at a temporary directory and throwaway PostgreSQL instances.
type Inputs struct {
	// Doc is the role document where the node stands now (its topology
	// applied); when nil, DocErr says why.
	Doc *metadata.Document
	// Provisioned is the frozen document the node was provisioned by, when
	// a topology overlays it; its phases are the provisioning plan.
	Provisioned *metadata.Document
	Topology    *metadata.Topology
	DocSource   string
	DocErr      error
	// Facts are the platform facts (unit names, port, SQL function names);
	// when nil, FactsErr says why.
	Facts    *profiles.Facts
	FactsErr error

	// State is the node's state (stamps, result, records).
	State            *nodestate.State
	SyncLog          string
	SyncDisabledFlag string
	// SyncHome is the sync user's home on a primary, where serve-sync
	// records when each secondary last synced (syncserve.LastSeen); empty
	// when unknown.
	SyncHome string
	// SocketDir is the PostgreSQL Unix socket directory.
	SocketDir string
	Systemd   UnitStater

	// CenterAPI is the central server's API on a cs-node (DefaultCenterAPI
	// when empty); CenterAPIKeyFile holds the key for its HA cluster status.
	// Without a key file name the status API is not asked.
	CenterAPI        string
	CenterAPIKeyFile string

	// Timeout bounds each probe.
	Timeout time.Duration
	// SyncMaxAge is how old the last sync may be on a healthy secondary,
	// and how long the primary may have not seen a secondary that does not
	// stream before that is named.
	SyncMaxAge time.Duration
	// MaxLagBytes is how far replay may trail receive on a healthy secondary.
	MaxLagBytes int64
	Now         func() time.Time
}

// Defaults for the zero fields of Inputs.
const (
	DefaultTimeout = 5 * time.Second
	// A sync older than this many timer periods means runs are failing or
	// not happening.
	SyncPeriods = 3
	// Replay may trail receive by about a WAL segment during a burst.
	DefaultMaxLagBytes = 16 << 20
)

// NodeInputs returns the inputs of the machine whose file system is at root ("/"
// on a node): the baked facts, the frozen role document, the paths the units
// use and a systemd connection. What cannot be loaded is recorded, not fatal.
// Close releases the systemd connection.
func NodeInputs(ctx context.Context, root string) *Inputs {
	st := nodestate.Open(root)
	// Load's warnings about newer metadata belong to provision, not here.
	st.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	in := &Inputs{
		State:            st,
		SyncLog:          filepath.Join(root, units.SyncLog),
		SyncDisabledFlag: filepath.Join(root, units.SyncDisabledFlag),
		SocketDir:        pg.SocketDir,
		CenterAPIKeyFile: filepath.Join(root, CenterAPIKeyFile),
	}
	in.Facts, in.FactsErr = st.Facts()
	if in.Facts != nil {
		in.SyncHome = filepath.Join(root, in.Facts.SyncUser.Home)
	}
	d, err := bounded(ctx, DefaultTimeout, func(context.Context) (*nodestate.Document, error) { return st.Document() })
	in.DocErr = err
	if d != nil {
		in.Doc, in.DocSource, in.Topology = d.Effective, d.Origin, d.Topology
		if d.Topology != nil {
			in.Provisioned = d.Frozen
		}
	}

	// go-systemd ties the connection's life to the context it was made
	// with: a per-call timeout here would close it before the probes run.
	if sd, err := system.ConnectSystemd(ctx); err != nil {
		in.Systemd = unreachable{err}
	} else {
		in.Systemd = sd
	}
	return in
}

// Close releases what NodeInputs opened.
func (in *Inputs) Close() {
	if sd, ok := in.Systemd.(*system.Systemd); ok {
		sd.Close()
	}
}

// unreachable answers every unit question with the connection error.
type unreachable struct{ err error }

func (u unreachable) ActiveState(context.Context, string) (string, error) { return "", u.err }

func (in *Inputs) withDefaults() Inputs {
	c := *in
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SyncMaxAge <= 0 {
		c.SyncMaxAge = SyncPeriods * syncPeriod()
	}
	if c.MaxLagBytes <= 0 {
		c.MaxLagBytes = DefaultMaxLagBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SocketDir == "" {
		c.SocketDir = pg.SocketDir
	}
	if c.CenterAPI == "" {
		c.CenterAPI = DefaultCenterAPI
	}
	return c
}

// syncPeriod is the sync timer's OnUnitActiveSec, read from the unit the
// image bakes so that the two cannot drift apart.
func syncPeriod() time.Duration {
	for _, o := range units.SyncTimer() {
		if o.Section == "Timer" && o.Name == "OnUnitActiveSec" {
			if s, err := strconv.Atoi(o.Value); err == nil {
				return time.Duration(s) * time.Second
			}
			if d, err := time.ParseDuration(o.Value); err == nil {
				return d
			}
		}
	}
	return time.Minute
}
