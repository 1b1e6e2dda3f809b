// Package roles is the registry of the node roles: for each role a role
// document can name, the declaration (phase.Role) of the package that
// provisions and operates it. The boot path is cmd → nodestate → role →
// engine.
package roles

import (
	"fmt"
	"slices"

	"xroad-appliance/provisioner/centralserver"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/securityserver"
)

// registered are the roles' declarations.
var registered = []*phase.Role{&securityserver.Role, &centralserver.Role}

// Of is the declaration of the package serving r.
func Of(r metadata.Role) (*phase.Role, error) {
	for _, d := range registered {
		if slices.Contains(d.Serves, r) {
			return d, nil
		}
	}
	return nil, fmt.Errorf("no package serves role %q", r)
}

// Provisioning is the provisioning plan of the node c describes.
func Provisioning(c *phase.Context) ([]engine.Phase, error) {
	d, err := Of(c.Doc.Role)
	if err != nil {
		return nil, err
	}
	return d.Provision(c), nil
}
