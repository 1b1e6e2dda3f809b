package confedit

import (
	"sort"
	"strings"
)

// Conninfo renders libpq key=value pairs in a stable order, quoting values
// as libpq requires.
func Conninfo(kv map[string]string, order ...string) string {
	var keys []string
	seen := map[string]bool{}
	for _, k := range order {
		if _, ok := kv[k]; ok {
			keys = append(keys, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range kv {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	var b strings.Builder
	for i, k := range append(keys, rest...) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "=" + quoteConninfo(kv[k]))
	}
	return b.String()
}

func quoteConninfo(v string) string {
	if v != "" && !strings.ContainsAny(v, " '\\\t\n") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// PGString quotes a value for postgresql.conf / recovery.conf.
func PGString(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}
