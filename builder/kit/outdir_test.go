package kit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"xroad-appliance/builder/outdir"

	"golang.org/x/crypto/ssh"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/atomicfile"
	"xroad-appliance/provisioner/metadata"
)

func mustResolve(t *testing.T, name string) *profiles.Facts {
	t.Helper()
	f, err := profiles.Resolve(name, "")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const smallSpec = `cluster: lab
primary: {name: primary, address: 192.0.2.1}
secondaries:
  - {name: replica1, address: 192.0.2.2}
`

// entries lists a directory, failing on error.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestRefusesExistingKit(t *testing.T) {
	spec := parseSpec(t, smallSpec)
	facts := mustResolve(t, "debian-12")
	parent := t.TempDir()
	out := filepath.Join(parent, "kit")
	if _, err := Generate(*spec, facts, out, Options{}); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, out, "kit.yaml")
	_, err := Generate(*spec, facts, out, Options{})
	if !errors.Is(err, outdir.ErrNotEmpty) {
		t.Fatalf("second run: %v, want outdir.ErrNotEmpty", err)
	}
	if !bytes.Equal(before, readFile(t, out, "kit.yaml")) {
		t.Error("the refused run changed the kit")
	}
	if got := entries(t, parent); len(got) != 1 {
		t.Errorf("parent holds %v, want only the kit", got)
	}
}

func TestRefusesForeignDir(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "kit")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Generate(*parseSpec(t, smallSpec), mustResolve(t, "debian-12"), out, Options{})
	if !errors.Is(err, outdir.ErrNotEmpty) {
		t.Fatalf("got %v, want outdir.ErrNotEmpty", err)
	}
	if got := entries(t, out); strings.Join(got, ",") != "notes.txt" {
		t.Errorf("kit dir now holds %v", got)
	}
}

func TestEmptyDirIsFilled(t *testing.T) {
	out := filepath.Join(t.TempDir(), "kit")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(*parseSpec(t, smallSpec), mustResolve(t, "debian-12"), out, Options{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("kit dir: %v %v", fi.Mode(), err)
	}
}

// Force moves the old directory aside with everything in it, including files
// the kit did not write.
func TestForceMovesAside(t *testing.T) {
	spec := parseSpec(t, smallSpec)
	facts := mustResolve(t, "debian-12")
	out := filepath.Join(t.TempDir(), "kit")
	first, err := Generate(*spec, facts, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := Generate(*spec, facts, out, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if second.PreviousDir == "" || second.CAFingerprint == first.CAFingerprint {
		t.Fatalf("force: previous %q, CA reused %v", second.PreviousDir, second.CAFingerprint == first.CAFingerprint)
	}
	if string(readFile(t, second.PreviousDir, "notes.txt")) != "mine" {
		t.Error("the operator's file did not survive")
	}
	if _, err := parseCertKey(readFile(t, second.PreviousDir, "ca", "ca.crt"), readFile(t, second.PreviousDir, "ca", "ca.key")); err != nil {
		t.Errorf("old CA not kept: %v", err)
	}
	if second.Nodes[0].InstanceID == first.Nodes[0].InstanceID {
		t.Error("a kit made from scratch repeats the old instance-id")
	}
}

// Adding a secondary: CA, password and the existing nodes' keys and
// certificates stay. Every document lists the whole cluster, so every existing
// node's document (and so its instance-id) changes.
func TestReuseAddsSecondary(t *testing.T) {
	facts := mustResolve(t, "rhel-8")
	out := filepath.Join(t.TempDir(), "kit")
	first, err := Generate(*parseSpec(t, smallSpec), facts, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string][]byte{}
	for _, f := range []string{"primary/ssh_host_ecdsa_key", "primary/id_ecdsa", "primary/server.crt",
		"replica1/ssh_host_ecdsa_key", "replica1/id_ecdsa", "replica1/server.crt"} {
		kept[f] = readFile(t, out, "nodes", f)
	}

	bigger := parseSpec(t, smallSpec+"  - {name: replica2, address: 192.0.2.3}\n")
	second, err := Generate(*bigger, facts, out, Options{Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	if second.Generation != 2 || second.CAFingerprint != first.CAFingerprint || second.PreviousDir == "" {
		t.Fatalf("reuse result %+v", second)
	}
	for _, n := range second.Nodes {
		if !n.Changed || n.Generation != 2 {
			t.Errorf("%s not regenerated: %+v", n.Name, n)
		}
	}
	for f, data := range kept {
		if !bytes.Equal(data, readFile(t, out, "nodes", f)) {
			t.Errorf("%s changed", f)
		}
	}

	docs := map[string]*metadata.Document{}
	for _, n := range second.Nodes {
		docs[n.Name] = checkSeed(t, n)
	}
	checkDocuments(t, bigger, second, docs, ssh.KeyAlgoECDSA256)
	checkModes(t, out, 5)

	// A spec for another cluster, or naming a primary the kit lacks, cannot reuse it.
	other := parseSpec(t, strings.Replace(smallSpec, "cluster: lab", "cluster: other", 1))
	if _, err := Generate(*other, facts, out, Options{Reuse: true}); err == nil || !strings.Contains(err.Error(), "cluster") {
		t.Errorf("other cluster: %v", err)
	}
	moved := parseSpec(t, strings.Replace(smallSpec, "name: primary", "name: primary2", 1))
	if _, err := Generate(*moved, facts, out, Options{Reuse: true}); err == nil || !strings.Contains(err.Error(), "primary.name") {
		t.Errorf("other primary: %v", err)
	}
	// Nor can a profile with another SSH key type.
	if _, err := Generate(*bigger, mustResolve(t, "debian-12"), out, Options{Reuse: true}); err == nil {
		t.Error("reuse across key types accepted")
	}
	// Reuse needs a kit.
	if _, err := Generate(*bigger, facts, filepath.Join(t.TempDir(), "none"), Options{Reuse: true}); err == nil {
		t.Error("reuse without a kit accepted")
	}
}

// A failure while writing removes the staging directory and leaves outDir alone.
func TestStageFailureLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "kit")
	_, err := outdir.Stage(out, 0o700, func(root string) error {
		if err := atomicfile.Create(filepath.Join(root, "ca.key"), []byte("secret"), modeSecret); err != nil {
			return err
		}
		return errors.New("disk full")
	})
	if err == nil {
		t.Fatal("stage ignored the failure")
	}
	if got := entries(t, parent); len(got) != 0 {
		t.Errorf("left %v behind", got)
	}
}
