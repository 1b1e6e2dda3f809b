package units

import (
	"fmt"
	"net/netip"
	"strings"
)

// ValidateAddress accepts an IP literal or an RFC 1123 host name and nothing
// else, so that a value from metadata cannot add directives to a unit file,
// options to a conninfo string or arguments to ssh.
func ValidateAddress(addr string) error {
	if addr == "" {
		return fmt.Errorf("empty")
	}
	if _, err := netip.ParseAddr(addr); err == nil {
		if strings.Contains(addr, "%") {
			return fmt.Errorf("%q: zoned addresses are not accepted", addr)
		}
		return nil
	}
	if len(addr) > 253 {
		return fmt.Errorf("host name longer than 253 characters")
	}
	for _, label := range strings.Split(strings.TrimSuffix(addr, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q is neither an IP address nor a host name (empty or long label)", addr)
		}
		for i, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' && i > 0 && i < len(label)-1
			if !ok {
				return fmt.Errorf("%q is neither an IP address nor a host name", addr)
			}
		}
	}
	return nil
}
