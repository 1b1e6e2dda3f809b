package roles

import (
	"testing"

	"xroad-appliance/provisioner/metadata"
)

// Every role a document can name is served by exactly one package, which
// declares a provisioning plan.
func TestEveryRoleServedOnce(t *testing.T) {
	for _, r := range []metadata.Role{metadata.RolePrimary, metadata.RoleSecondary,
		metadata.RoleCSDBPrimary, metadata.RoleCSDBStandby, metadata.RoleCSNode} {
		n := 0
		for _, d := range registered {
			for _, s := range d.Serves {
				if s == r {
					n++
				}
			}
		}
		d, err := Of(r)
		if n != 1 || err != nil || d.Provision == nil {
			t.Errorf("%s: served by %d packages (%v)", r, n, err)
		}
	}
	if _, err := Of("leader"); err == nil {
		t.Error("an unknown role was served")
	}
}
