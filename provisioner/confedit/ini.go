package confedit

import (
	"strings"
)

// SetINI sets key=value in [section] of an INI file (X-Road's local.ini,
// node.ini), replacing an existing assignment and keeping every other line.
func SetINI(content []byte, section, key, value string) []byte {
	lines := splitLines(string(content))
	inSection, sectionAt, insertAt := false, -1, -1
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			if inSection {
				break
			}
			inSection = strings.TrimSpace(t[1:len(t)-1]) == section
			if inSection {
				sectionAt, insertAt = i, i+1
			}
			continue
		}
		if !inSection {
			continue
		}
		if k, _, ok := strings.Cut(t, "="); ok && strings.TrimSpace(k) == key && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, ";") {
			lines[i] = key + "=" + value
			return joinLines(lines)
		}
		if t != "" {
			insertAt = i + 1
		}
	}
	if sectionAt < 0 {
		if len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) != "" {
			lines = append(lines, "")
		}
		lines = append(lines, "["+section+"]", key+"="+value)
		return joinLines(lines)
	}
	lines = append(lines[:insertAt], append([]string{key + "=" + value}, lines[insertAt:]...)...)
	return joinLines(lines)
}

// GetINI returns the value of key in [section].
func GetINI(content []byte, section, key string) (string, bool) {
	inSection := false
	for _, line := range splitLines(string(content)) {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			inSection = strings.TrimSpace(t[1:len(t)-1]) == section
			continue
		}
		if k, v, ok := strings.Cut(t, "="); inSection && ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func joinLines(lines []string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n")
}
