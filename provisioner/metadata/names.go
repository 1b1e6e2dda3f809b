package metadata

import (
	"fmt"
	"regexp"
)

// NameProblem says what is wrong with a cluster or node name ("" when it is
// fine); node names must also avoid the reserved PostgreSQL and X-Road names.
// Exported so that the cluster kit checks names by the same rules.
func NameProblem(v string, node bool) string {
	switch {
	case v == "":
		return "required"
	case !nameRE.MatchString(v):
		return "must be 1-63 lowercase letters, digits and '-', starting with a letter and not ending with '-'"
	case node && reservedNames[v]:
		return "is a reserved PostgreSQL or X-Road name"
	}
	return ""
}

// maxIdentifier is PostgreSQL's NAMEDATALEN - 1: longer role and slot
// names are cut, so two nodes could end up with the same slot.
const maxIdentifier = 63

// DatabaseNodeNameProblem is NameProblem for a node of the central servers'
// database cluster, whose name also becomes its replication slot
// (SlotName), which must fit PostgreSQL's identifiers.
func DatabaseNodeNameProblem(v string) string {
	if msg := NameProblem(v, true); msg != "" {
		return msg
	}
	if slot := SlotName(v); len(slot) > maxIdentifier {
		return fmt.Sprintf("is too long: its replication slot %s would exceed PostgreSQL's %d-byte names (at most %d characters)",
			slot, maxIdentifier, maxIdentifier-len(SlotName("")))
	}
	return ""
}

// AddressProblem says what is wrong with a host name or IP address ("" when
// it is fine).
func AddressProblem(v string) string {
	if v == "" {
		return "required"
	}
	return checkAddress(v)
}

// haNodeNameRE: node_0, node_1, ... is the guide's scheme; any name that
// fits an ini value and a SQL literal is allowed.
var haNodeNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)

// HANodeNameProblem says what is wrong with a central server's
// ha-node-name, or "" when it is fine.
func HANodeNameProblem(v string) string {
	switch {
	case v == "":
		return "required"
	case !haNodeNameRE.MatchString(v):
		return "must be a letter, then up to 62 letters, digits, '_' or '-' (the guide suggests node_0, node_1, ...)"
	}
	return ""
}
