package confedit

import (
	"strings"
)

// SetProperty sets a key in a Java properties file (X-Road's db.properties),
// keeping the file's other lines and its "key = value" spacing style.
func SetProperty(content []byte, key, value string) []byte {
	lines := splitLines(string(content))
	for i, line := range lines {
		if k, _, ok := propertyLine(line); ok && k == key {
			sep := " = "
			if !strings.Contains(line, " = ") {
				sep = "="
			}
			lines[i] = key + sep + value
			return joinLines(lines)
		}
	}
	return joinLines(append(lines, key+" = "+value))
}

// GetProperty returns a key's value.
func GetProperty(content []byte, key string) (string, bool) {
	for _, line := range splitLines(string(content)) {
		if k, v, ok := propertyLine(line); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func propertyLine(line string) (key, value string, ok bool) {
	t := strings.TrimSpace(line)
	if t == "" || t[0] == '#' || t[0] == '!' {
		return "", "", false
	}
	k, v, ok := strings.Cut(t, "=")
	if !ok {
		return "", "", false
	}
	return strings.TrimSpace(k), strings.TrimSpace(v), true
}
