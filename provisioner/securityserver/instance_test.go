package securityserver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xroad-appliance/provisioner/metadata"
)

// instanceNode is a node whose serverconf instance lives in a temporary
// directory, for the checks that need no server.
func instanceNode(t *testing.T) *Node {
	n := node(t, "ubuntu-24.04", clusterDoc(metadata.RoleSecondary, "ss2", 1))
	f := *n.Facts
	dir := t.TempDir()
	f.PG.Serverconf.DataDir, f.PG.Serverconf.ConfigDir = filepath.Join(dir, "data"), filepath.Join(dir, "conf")
	n.Facts = &f
	return n
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A run killed after initdb left a cluster and its configuration but not the
// record that ends the phase: the phase is not done, and the rerun adopts
// the cluster it finds only because this node's marker says it made it.
func TestServerconfInstanceKilledAfterInitdb(t *testing.T) {
	n := instanceNode(t)
	sc := n.Facts.PG.Serverconf
	touch(t, filepath.Join(sc.DataDir, "PG_VERSION"))
	touch(t, n.pgConf())
	check := n.serverconfInstance().Check
	if done, err := check(context.Background()); err != nil || done {
		t.Fatalf("without the record the instance counts as made: %v %v", done, err)
	}
	if err := n.createInstance(context.Background()); err == nil || !strings.Contains(err.Error(), "did not create") {
		t.Fatalf("a cluster without this node's marker: %v", err)
	}
	touch(t, n.creatingMarker())
	if err := n.createInstance(context.Background()); err != nil {
		t.Fatalf("this node's own interrupted cluster: %v", err)
	}
	touch(t, n.createdRecord())
	if done, err := check(context.Background()); err != nil || !done {
		t.Fatalf("with the record: %v %v", done, err)
	}
}

// Files that are not a cluster are never initialised over.
func TestServerconfInstanceRefusesForeignFiles(t *testing.T) {
	n := instanceNode(t)
	touch(t, filepath.Join(n.Facts.PG.Serverconf.DataDir, "someone-elses-file"))
	if err := n.createInstance(context.Background()); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("error %v", err)
	}
}
