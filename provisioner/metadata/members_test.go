package metadata

import (
	"errors"
	"testing"
)

func TestAdmittedForgottenWithMembers(t *testing.T) {
	d := &Document{Role: RolePrimary, Node: "ss1", Cluster: "c", Primary: Primary{Name: "ss1"},
		Secondaries: []Member{{Name: "ss2", SSHPublicKey: "k2"}}}
	next, err := d.Admitted(Member{Name: "ss3", SSHPublicKey: "k3"})
	if err != nil || len(next.Secondaries) != 2 || len(d.Secondaries) != 1 {
		t.Fatalf("Admitted = %v, %v (original %v)", next, err, d.Secondaries)
	}
	for _, name := range []string{"ss1", "ss2"} {
		if _, err := d.Admitted(Member{Name: name}); !errors.Is(err, ErrNameTaken) {
			t.Fatalf("Admitted(%s) = %v, want ErrNameTaken", name, err)
		}
	}
	full := *d
	full.Secondaries = nil
	for i := range MaxSecondaries {
		full.Secondaries = append(full.Secondaries, Member{Name: string(rune('a' + i))})
	}
	if _, err := full.Admitted(Member{Name: "zz"}); err == nil {
		t.Fatal("a full cluster admitted another secondary")
	}

	gone, err := next.Forgotten("ss2")
	if err != nil || len(gone.Secondaries) != 1 || gone.Secondaries[0].Name != "ss3" {
		t.Fatalf("Forgotten = %v, %v", gone, err)
	}
	if _, err := next.Forgotten("ss9"); err == nil {
		t.Fatal("forgot a node that is not listed")
	}
	sec := &Document{Role: RoleSecondary, Node: "ss2", Primary: Primary{Name: "ss1"}, Secondaries: []Member{{Name: "ss2", SSHPublicKey: "mine"}}}
	if _, err := sec.Forgotten("ss2"); err == nil {
		t.Fatal("a secondary forgot a node")
	}
	merged := sec.WithMembers([]Member{{Name: "ss2", SSHPublicKey: "other"}, {Name: "ss3", SSHPublicKey: "k3"}, {Name: "ss1"}})
	if len(merged.Secondaries) != 2 || merged.Secondaries[0].SSHPublicKey != "mine" || merged.Secondaries[1].Name != "ss3" || len(sec.Secondaries) != 1 {
		t.Fatalf("WithMembers = %+v", merged.Secondaries)
	}
}
