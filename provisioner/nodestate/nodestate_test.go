package nodestate_test

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xroad-appliance/builder/kit"
	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/inputfile"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/units"
)

// seeded is a state under a temporary root whose NoCloud seed is ss2's
// user-data of a kit's three-node cluster.
func seeded(t *testing.T) (*nodestate.State, *profiles.Facts) {
	t.Helper()
	facts, err := profiles.Resolve("debian-12", "")
	if err != nil {
		t.Fatal(err)
	}
	spec := kit.Spec{Cluster: "c1", Primary: kit.Node{Name: "ss1", Address: "10.0.0.1"},
		Secondaries: []kit.Node{{Name: "ss2", Address: "10.0.0.2"}, {Name: "ss3", Address: "10.0.0.3"}}, Options: kit.DefaultOptions()}
	res, err := kit.Generate(spec, facts, filepath.Join(t.TempDir(), "kit"), kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := nodestate.Open(t.TempDir())
	st.Owner = os.Getuid()
	st.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, n := range res.Nodes {
		if n.Name == "ss2" {
			ud, err := os.ReadFile(filepath.Join(n.Dir, "user-data"))
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(st.Root(), seedFile), ud, 0o600)
		}
	}
	return st, facts
}

// seedFile is where a NoCloud seed's user-data lies.
const seedFile = metadata.SeedDir + "/user-data"

func write(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := errors.Join(os.MkdirAll(filepath.Dir(path), 0o700), os.WriteFile(path, data, mode)); err != nil {
		t.Fatal(err)
	}
}

// Every file of the node's state lies below the root it was opened at.
func TestLayoutBelowRoot(t *testing.T) {
	root := t.TempDir()
	st := nodestate.Open(root)
	for _, p := range []string{st.Dir(), st.ProvisionedStamp(), st.StampDir(), st.PhaseStamp("basebackup"), st.ResultFile(),
		st.UpgradeFile(), st.HandoverFile(), st.FenceFile(), st.ServerconfCreated(), st.ServerconfCreating(), st.InitialSyncStamp()} {
		if !strings.HasPrefix(p, filepath.Join(root, nodestate.Dir)+"/") && p != filepath.Join(root, nodestate.Dir) {
			t.Errorf("%s is not in the state directory below %s", p, root)
		}
	}
	if st.FactsFile() != filepath.Join(root, nodestate.FactsFile) {
		t.Errorf("facts file %s", st.FactsFile())
	}
	if nodestate.Open("").Dir() != nodestate.Dir {
		t.Errorf("a node's state directory is %s", nodestate.Open("").Dir())
	}
}

// The document is the seed until frozen, then the frozen copy; a saved
// topology overlays it, and is written below the root.
func TestDocumentFrozenAndPlaced(t *testing.T) {
	st, _ := seeded(t)
	d, err := st.Document()
	if err != nil {
		t.Fatal(err)
	}
	if d.Origin != "nocloud-seed:"+seedFile || d.Topology != nil || d.Effective != d.Frozen {
		t.Fatalf("before freezing: %s, topology %v", d.Origin, d.Topology)
	}
	if err := st.Freeze(d.Frozen); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(st.Root(), nodestate.FrozenFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("frozen copy: %v %v", fi, err)
	}
	if d, err = st.Document(); err != nil || d.Origin != "frozen:"+nodestate.FrozenFile {
		t.Fatalf("after freezing: %v, %v", d, err)
	}

	promoted, err := d.Frozen.Promoted()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveTopology(promoted.Topology("promote", time.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(st.Root(), nodestate.TopologyFile)); err != nil {
		t.Fatal(err)
	}
	d, err = st.Document()
	if err != nil {
		t.Fatal(err)
	}
	if d.Effective.Role != metadata.RolePrimary || d.Frozen.Role != metadata.RoleSecondary || d.Topology.By != "promote" ||
		d.Effective.Primary.Name != "ss2" || len(d.Effective.Secondaries) != 2 {
		t.Fatalf("placed: %s (frozen %s), primary %s, %d secondaries", d.Effective.Role, d.Frozen.Role, d.Effective.Primary.Name, len(d.Effective.Secondaries))
	}

	// A broken topology still gives the frozen document, with the error.
	write(t, filepath.Join(st.Root(), nodestate.TopologyFile), []byte("role: leader\n"), 0o644)
	d, err = st.Document()
	if err == nil || !strings.Contains(err.Error(), nodestate.TopologyFile) || d == nil || d.Effective != d.Frozen || d.Frozen.Role != metadata.RoleSecondary {
		t.Fatalf("broken topology: %+v, %v", d, err)
	}
}

func TestDocumentWithoutMetadata(t *testing.T) {
	if _, err := nodestate.Open(t.TempDir()).Document(); !errors.Is(err, metadata.ErrNoMetadata) {
		t.Fatalf("no source: %v", err)
	}
}

// The baked facts are read like every input file.
func TestFacts(t *testing.T) {
	st, facts := seeded(t)
	var ie *inputfile.Error
	if _, err := st.Facts(); !errors.As(err, &ie) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("without baked facts: %v", err)
	}
	baked, err := units.Bake(facts, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range baked {
		if f.Path == nodestate.FactsFile {
			write(t, st.FactsFile(), f.Content, 0o644)
		}
	}
	got, err := st.Facts()
	if err != nil || got.Name != facts.Name || got.PG.Serverconf.Port != facts.PG.Serverconf.Port {
		t.Fatalf("facts: %+v, %v", got, err)
	}
}

// Records and stamps are written whole, making their directories.
func TestRecordsAndStamps(t *testing.T) {
	st := nodestate.Open(t.TempDir())
	type record struct {
		LSN string `json:"lsn"`
	}
	var r record
	if err := st.ReadRecord(st.HandoverFile(), &r); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing record: %v", err)
	}
	if err := st.WriteRecord(st.HandoverFile(), record{LSN: "0/3000060"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(st.HandoverFile()); string(b) != `{"lsn":"0/3000060"}`+"\n" {
		t.Errorf("record file: %q", b)
	}
	if err := st.ReadRecord(st.HandoverFile(), &r); err != nil || r.LSN != "0/3000060" {
		t.Fatalf("read back: %+v, %v", r, err)
	}
	write(t, st.UpgradeFile(), []byte("{not json"), 0o644)
	if err := st.ReadRecord(st.UpgradeFile(), &r); err == nil || !strings.Contains(err.Error(), st.UpgradeFile()) {
		t.Fatalf("broken record: %v", err)
	}

	if st.Provisioned() {
		t.Fatal("provisioned without a stamp")
	}
	if err := st.Stamp(st.ProvisionedStamp()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(st.ProvisionedStamp()); !st.Provisioned() || err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("stamp: %v %v", fi, err)
	}
}
