// Package nodestate owns what a node keeps about itself: the layout of its
// state directory (/var/lib/xroad-node), its role document where it stands
// now (the copy frozen at first boot with the topology of any later promote,
// repoint, rejoin or reseed laid over it), the platform facts baked into its
// image, and the durable writes of its records. Every command and phase
// reaches the node's state through a State, so tests point one at a
// temporary root.
package nodestate

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/atomicfile"
	"xroad-appliance/provisioner/inputfile"
	"xroad-appliance/provisioner/metadata"
)

// Paths on a node, below State's root.
const (
	// Dir is the state directory.
	Dir = "/var/lib/xroad-node"
	// ProvisionedStamp is written when the last provisioning phase is done;
	// day-2 commands are refused without it.
	ProvisionedStamp = Dir + "/provisioned"
	// FrozenFile is the role document taken at first boot; once present it
	// alone decides the node's role.
	FrozenFile = Dir + "/metadata.yaml"
	// TopologyFile records where the node stands in its cluster since a
	// day-2 change; it overlays the frozen document.
	TopologyFile = Dir + "/topology.yaml"
	// FactsFile holds the resolved profile facts baked into the image.
	FactsFile = "/usr/share/xroad-appliance/profile.yaml"
	// JoinDir holds the join service's state on a primary (the cluster CA's
	// key and the join tokens) and a joining secondary's keys until it is
	// admitted; root only.
	JoinDir = Dir + "/join"
)

// Files in Dir.
const (
	phasesDir  = "phases"
	resultFile = "result.json"
	// upgradeFile records a prepared rolling upgrade, handoverFile a primary
	// that handed over, fenceFile a database node that found another on a
	// newer timeline.
	upgradeFile  = "upgrade.json"
	handoverFile = "handover.json"
	fenceFile    = "fenced.json"
	// serverconfCreated holds the system identifier of the serverconf
	// instance the node created; serverconfCreating exists while it creates it.
	serverconfCreated  = "serverconf-created.sysid"
	serverconfCreating = "serverconf-creating"
	initialSyncStamp   = "initial-sync.done"
)

// State is a node's state below a root: "/" on a node, a temporary
// directory in tests.
type State struct {
	root string
	// Owner is the uid that must own files holding secrets (the frozen
	// copy, the seeds): 0 on a node; tests set os.Getuid().
	Owner int
	// Logger receives metadata warnings (a newer seed that differs from
	// the frozen copy); nil means slog.Default().
	Logger *slog.Logger
}

// Open is the state of the node whose file system is at root. It reads
// nothing: each accessor reads what it is asked for.
func Open(root string) *State {
	if root == "" {
		root = "/"
	}
	return &State{root: root}
}

// Root is the file system root the state lies below.
func (s *State) Root() string { return s.root }

// path is p, a path on the node, below the root.
func (s *State) path(p string) string { return filepath.Join(s.root, p) }

func (s *State) in(name string) string { return filepath.Join(s.Dir(), name) }

// Dir is the state directory.
func (s *State) Dir() string { return s.path(Dir) }

// ProvisionedStamp is the final stamp of provisioning.
func (s *State) ProvisionedStamp() string { return s.path(ProvisionedStamp) }

// StampDir holds a stamp per provisioning phase done.
func (s *State) StampDir() string { return s.in(phasesDir) }

// PhaseStamp is the stamp of the provisioning phase name.
func (s *State) PhaseStamp(name string) string { return filepath.Join(s.StampDir(), name+".done") }

// ResultFile is the outcome of the last provisioning run.
func (s *State) ResultFile() string { return s.in(resultFile) }

// JoinDir is JoinDir below the root.
func (s *State) JoinDir() string { return s.path(JoinDir) }

// UpgradeFile records a prepared rolling upgrade.
func (s *State) UpgradeFile() string { return s.in(upgradeFile) }

// HandoverFile records a primary that handed over.
func (s *State) HandoverFile() string { return s.in(handoverFile) }

// FenceFile records a fenced central-server database node.
func (s *State) FenceFile() string { return s.in(fenceFile) }

// ServerconfCreated holds the system identifier of the serverconf instance
// this node created, which a base backup may replace.
func (s *State) ServerconfCreated() string { return s.in(serverconfCreated) }

// ServerconfCreating exists while the node creates its serverconf instance.
func (s *State) ServerconfCreating() string { return s.in(serverconfCreating) }

// InitialSyncStamp is written once a secondary's first copy of /etc/xroad is done.
func (s *State) InitialSyncStamp() string { return s.in(initialSyncStamp) }

// FactsFile is the baked facts' file.
func (s *State) FactsFile() string { return s.path(FactsFile) }

// Provisioned reports whether provisioning has finished.
func (s *State) Provisioned() bool {
	_, err := os.Stat(s.ProvisionedStamp())
	return err == nil
}

// Facts are the platform facts baked into the image.
func (s *State) Facts() (*profiles.Facts, error) {
	data, err := inputfile.Read(s.FactsFile())
	if err != nil {
		return nil, err
	}
	return profiles.ParseFacts(s.FactsFile(), data)
}

// Sources are where the node's role document is found: the frozen copy,
// then the seeds.
func (s *State) Sources() metadata.Sources {
	return metadata.Sources{Root: s.root, Frozen: FrozenFile, Owner: s.Owner, Logger: s.Logger}
}

// Load is the node's role document as frozen, or from the first seed found
// (explicit first, when given) before it is frozen, and where it came from.
func (s *State) Load(explicit string) (*metadata.Document, string, error) {
	return metadata.Load(s.Sources(), explicit)
}

// Freeze writes the frozen copy of doc unless one exists.
func (s *State) Freeze(doc *metadata.Document) error { return metadata.Freeze(s.Sources(), doc) }

// Topology is where a day-2 change placed the node; nil when it stands
// where it was provisioned.
func (s *State) Topology() (*metadata.Topology, error) {
	return metadata.LoadTopology(s.path(TopologyFile))
}

// SaveTopology records where the node stands now.
func (s *State) SaveTopology(t *metadata.Topology) error {
	if err := os.MkdirAll(s.Dir(), 0o755); err != nil {
		return err
	}
	return t.Save(s.path(TopologyFile))
}

// Document is the node's role document.
type Document struct {
	// Effective is the document where the node stands now: Frozen with
	// Topology laid over it.
	Effective *metadata.Document
	// Frozen is the document the node was provisioned by; its phases are
	// the provisioning plan.
	Frozen *metadata.Document
	// Topology is nil while the node stands where it was provisioned.
	Topology *metadata.Topology
	// Origin says where Frozen came from (metadata.Load).
	Origin string
}

// Document reads the node's role document and its topology. When the
// topology cannot be read, the document is returned as frozen (Effective
// and Frozen alike) with the error.
func (s *State) Document() (*Document, error) {
	doc, origin, err := s.Load("")
	if err != nil {
		return nil, err
	}
	d := &Document{Effective: doc, Frozen: doc, Origin: origin}
	if d.Topology, err = s.Topology(); err != nil {
		return d, err
	}
	if d.Topology != nil {
		d.Effective = doc.WithTopology(d.Topology)
	}
	return d, nil
}

// Write writes one of the node's state files (stamps, records), making its
// directory when needed. The write is atomic and durable: the node's role
// and progress are decided from these files after a crash.
func (s *State) Write(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}

// Stamp writes a stamp: the time it was written.
func (s *State) Stamp(path string) error {
	return s.Write(path, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"))
}

// WriteRecord writes v as one line of JSON to path.
func (s *State) WriteRecord(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.Write(path, append(b, '\n'))
}

// ReadRecord reads path's JSON into v. A missing file yields an error
// matching fs.ErrNotExist; one that is not JSON of v's shape names the path.
func (s *State) ReadRecord(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
