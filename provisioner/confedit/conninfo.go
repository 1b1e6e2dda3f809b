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

// ParseConninfo reads libpq key=value pairs as Conninfo writes them (and as
// the server shows them in pg_stat_wal_receiver): values bare or in single
// quotes with backslash escapes. Malformed text yields what parsed before it.
func ParseConninfo(s string) map[string]string {
	kv := map[string]string{}
	i := 0
	skipSpace := func() {
		for i < len(s) && strings.ContainsRune(" \t\n", rune(s[i])) {
			i++
		}
	}
	for {
		skipSpace()
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return kv
		}
		key := strings.TrimSpace(s[i : i+eq])
		i += eq + 1
		skipSpace()
		var v strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
				i++
			}
			i++ // closing quote
		} else {
			for i < len(s) && !strings.ContainsRune(" \t\n", rune(s[i])) {
				v.WriteByte(s[i])
				i++
			}
		}
		kv[key] = v.String()
	}
}
