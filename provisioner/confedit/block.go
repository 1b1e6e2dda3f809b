// Package confedit edits configuration files the way an operator would:
// changing only the keys the guide names and leaving everything else, so that
// a file shipped by a package keeps its comments and its other settings.
package confedit

import (
	"bytes"
	"strings"
)

const (
	beginMark = "# BEGIN xroad-appliance"
	endMark   = "# END xroad-appliance"
)

// Placement says where a managed block goes when it is first added.
type Placement int

const (
	// Append puts the block last: in postgresql.conf the last setting wins.
	Append Placement = iota
	// Prepend puts the block first: in pg_hba.conf the first match wins.
	Prepend
)

// SetBlock replaces the managed block in content, or adds it at the placement.
// The result is the same however often it is applied.
func SetBlock(content []byte, body string, where Placement) []byte {
	block := beginMark + " (managed by xroad-node; edits here are replaced)\n" + strings.TrimRight(body, "\n") + "\n" + endMark + "\n"
	rest, found := cut(content)
	if found {
		return []byte(rest.before + block + rest.after)
	}
	if where == Prepend {
		return append([]byte(block), content...)
	}
	if len(content) > 0 && !bytes.HasSuffix(content, []byte("\n")) {
		content = append(content, '\n')
	}
	return append(content, block...)
}

// Block returns the body of the managed block, if any.
func Block(content []byte) (string, bool) {
	s := string(content)
	i := strings.Index(s, beginMark)
	if i < 0 {
		return "", false
	}
	j := strings.Index(s[i:], endMark)
	if j < 0 {
		return "", false
	}
	inner := s[i : i+j]
	if nl := strings.IndexByte(inner, '\n'); nl >= 0 {
		return inner[nl+1:], true
	}
	return "", true
}

type parts struct{ before, after string }

func cut(content []byte) (parts, bool) {
	s := string(content)
	i := strings.Index(s, beginMark)
	if i < 0 {
		return parts{}, false
	}
	j := strings.Index(s[i:], endMark)
	if j < 0 {
		return parts{}, false
	}
	end := i + j + len(endMark)
	if end < len(s) && s[end] == '\n' {
		end++
	}
	return parts{before: s[:i], after: s[end:]}, true
}
