package profiles

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var lineRef = regexp.MustCompile(`line (\d+): `)

// nameKeys rewrites yaml.v3 type errors, which name only a line, so that each
// names the key path at that line.
func nameKeys(err error, data []byte) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		if sub := lineRef.FindStringSubmatch(m); sub != nil {
			line, _ := strconv.Atoi(sub[1])
			if key := keyAtLine(&root, line, ""); key != "" {
				m = fmt.Sprintf("key %s: %s", key, lineRef.ReplaceAllString(m, "line $1: "))
			}
		}
		msgs = append(msgs, m)
	}
	return errors.New(strings.Join(msgs, "; "))
}

// keyAtLine finds the dotted key path of the mapping entry on a line.
func keyAtLine(n *yaml.Node, line int, at string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if k := keyAtLine(c, line, at); k != "" {
				return k
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			path := key.Value
			if at != "" {
				path = at + "." + key.Value
			}
			if key.Line == line || val.Line == line && val.Kind == yaml.ScalarNode {
				return path
			}
			if k := keyAtLine(val, line, path); k != "" {
				return k
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			path := fmt.Sprintf("%s[%d]", at, i)
			if c.Line == line && c.Kind == yaml.ScalarNode {
				return path
			}
			if k := keyAtLine(c, line, path); k != "" {
				return k
			}
		}
	}
	return ""
}

// KeyPathError rewrites a yaml.v3 decoding error of data so that each type
// error names the dotted key path at its line; other errors pass unchanged.
// Image definitions use it too.
func KeyPathError(err error, data []byte) error { return nameKeys(err, data) }
