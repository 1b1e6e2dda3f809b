// Package address is the one rule for a node's address, wherever it comes
// from (the kit's spec, a role document, a unit file): an IPv4 address or an
// RFC 1123 host name that another node can connect to.
//
// IPv6 literals are refused. The guide's sync source is user@host:/path and
// its MASTER= variable a bare host, which rsync and ssh read up to the first
// colon; the appliance does not bracket addresses anywhere, so an IPv6 cluster
// would be generated that cannot sync. A host name that resolves to an IPv6
// address works, because nothing splits a name.
package address

import (
	"net/netip"
	"regexp"
	"strings"
)

var labelRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// Problem says what is wrong with v ("" when it is fine). It never repeats v.
func Problem(v string) string {
	if v == "" {
		return "required"
	}
	if ip, err := netip.ParseAddr(v); err == nil {
		return ipProblem(ip)
	}
	if strings.Contains(v, ":") {
		return "not an IPv4 address or a host name (IPv6 addresses are not supported: use an IPv4 address or a host name)"
	}
	if len(v) > 253 {
		return "a host name is at most 253 characters"
	}
	labels := strings.Split(strings.TrimSuffix(v, "."), ".")
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return "must be an IPv4 address or an RFC 1123 host name (letters, digits, '-' and '.')"
		}
	}
	// "999.1.1.1" is a mistyped address, not a host name.
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "not a valid IPv4 address, and a host name cannot end in an all-numeric label"
	}
	if strings.EqualFold(labels[len(labels)-1], "localhost") {
		return "localhost is this machine, not an address another node can reach"
	}
	return ""
}

func ipProblem(ip netip.Addr) string {
	switch {
	case ip.Is6():
		return "IPv6 addresses are not supported (the sync source user@host:/path and MASTER= take no brackets): use an IPv4 address or a host name"
	case ip.IsUnspecified():
		return "an unspecified address (0.0.0.0) cannot be connected to"
	case ip.IsLoopback():
		return "a loopback address is this machine, not an address another node can reach"
	case ip.IsMulticast():
		return "a multicast address is not allowed"
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address is not allowed"
	}
	return ""
}

// Key is the form in which two spellings of one address compare equal: host
// names are case-insensitive and may end in a dot.
func Key(v string) string {
	if ip, err := netip.ParseAddr(v); err == nil {
		return ip.Unmap().String()
	}
	return strings.ToLower(strings.TrimSuffix(v, "."))
}
