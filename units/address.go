package units

import (
	"errors"

	"xroad-appliance/provisioner/address"
)

// ValidateAddress applies the one address rule before a value from metadata
// reaches a unit file, so that it cannot add directives to the unit.
func ValidateAddress(addr string) error {
	if p := address.Problem(addr); p != "" {
		return errors.New(p)
	}
	return nil
}
