package securityserver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xroad-appliance/profiles"
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
	touch(t, n.State.ServerconfCreating())
	if err := n.createInstance(context.Background()); err != nil {
		t.Fatalf("this node's own interrupted cluster: %v", err)
	}
	touch(t, n.State.ServerconfCreated())
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

// A SELinux command that refuses to repeat itself (semanage port -a on a
// rerun) is followed by its alternative; without one, or when both fail,
// the phase fails.
func TestSELinuxCommandRerun(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		cmd  profiles.SELinuxCommand
		fail bool
	}{
		{profiles.SELinuxCommand{Run: []string{"true"}}, false},
		{profiles.SELinuxCommand{Run: []string{"false"}, OrElse: []string{"true"}}, false},
		{profiles.SELinuxCommand{Run: []string{"false"}}, true},
		{profiles.SELinuxCommand{Run: []string{"false"}, OrElse: []string{"false"}}, true},
	} {
		if err := runSELinux(ctx, c.cmd); (err != nil) != c.fail {
			t.Errorf("%v: %v", c.cmd, err)
		}
	}
}

// Every SELinux profile's semanage port -a has an alternative for a rerun.
func TestSELinuxProfilesRerun(t *testing.T) {
	for _, name := range []string{"rhel-7", "rhel-8", "rhel-9"} {
		p, err := profiles.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.SELinux.Commands {
			if strings.Join(c.Run[:min(3, len(c.Run))], " ") == "semanage port -a" && len(c.OrElse) == 0 {
				t.Errorf("%s: %v has no alternative for a rerun", name, c.Run)
			}
		}
	}
}
