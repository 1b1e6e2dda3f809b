package metadata

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

// AddressProblem says what is wrong with a host name or IP address ("" when
// it is fine).
func AddressProblem(v string) string {
	if v == "" {
		return "required"
	}
	return checkAddress(v)
}
