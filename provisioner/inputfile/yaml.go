package inputfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// MaxProblems is how many problems an error lists before "and K more".
const MaxProblems = 20

// Problem is one thing wrong with a YAML input. Path is the field path of the
// value ("secondaries[1].name"), or of the mapping holding an unknown key; ""
// is the document as a whole or a problem whose message names its place (an
// unknown key: "unknown key under tls"). Msg never holds text taken from the
// input.
type Problem struct {
	Path string
	Line int
	Msg  string
}

// Text is the message with its line: "line 7: unknown key".
func (p *Problem) Text() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return p.Msg
}

// Error is the problem with its key path: "key PATH: line 7: MSG".
func (p *Problem) Error() string {
	if p.Path == "" {
		return p.Text()
	}
	return "key " + p.Path + ": " + p.Text()
}

// Problems is every problem found in one input.
type Problems []*Problem

// ProblemsOf is what err holds of Problems (one Problem counts as one), and
// whether it holds any: other errors are the YAML parser's own.
func ProblemsOf(err error) (Problems, bool) {
	var ps Problems
	var p *Problem
	switch {
	case errors.As(err, &ps):
		return ps, true
	case errors.As(err, &p):
		return Problems{p}, true
	}
	return nil, false
}

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Error()
	}
	return JoinCapped(msgs)
}

// Unwrap lets errors.As find the individual problems.
func (ps Problems) Unwrap() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// JoinCapped joins at most MaxProblems messages with "; " and says how many
// more there were.
func JoinCapped(msgs []string) string {
	if len(msgs) <= MaxProblems {
		return strings.Join(msgs, "; ")
	}
	return strings.Join(msgs[:MaxProblems], "; ") + fmt.Sprintf("; and %d more", len(msgs)-MaxProblems)
}

// ParseYAML parses data as exactly one YAML document and returns its content
// node. An empty stream, a second document and a syntax error are Problems
// that quote nothing of data. It never panics.
func ParseYAML(data []byte) (n *yaml.Node, err error) {
	if len(data) > MaxSize {
		return nil, &Problem{Msg: fmt.Sprintf("larger than %d bytes", MaxSize)}
	}
	// yaml.v3 has panicked on malformed input before.
	defer func() {
		if r := recover(); r != nil {
			n, err = nil, &Problem{Msg: "YAML decoder failed on malformed input"}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Problem{Msg: "empty document"}
		}
		return nil, &Problem{Msg: "invalid YAML: " + SanitizeYAMLError(err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, &Problem{Msg: "invalid YAML after the first document: " + SanitizeYAMLError(err)}
	default:
		return nil, &Problem{Line: extra.Line, Msg: "a second YAML document follows the first; exactly one is allowed"}
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return nil, &Problem{Msg: "empty document"}
	}
	return root.Content[0], nil
}

// Decode decodes n into v (which may hold defaults) after Check found nothing
// wrong; an error that still comes is sanitized.
func Decode(n *yaml.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Problem{Msg: "YAML decoder failed on malformed input"}
		}
	}()
	if err := n.Decode(v); err != nil {
		return &Problem{Msg: "YAML decoding failed: " + SanitizeYAMLError(err)}
	}
	return nil
}

var quoted = regexp.MustCompile("`[^`]*`|\"[^\"]*\"|'[^']*'")

// SanitizeYAMLError drops quoted fragments from a yaml error (type errors
// quote up to ten characters of the offending value, unknown-field errors the
// key) and anything unprintable.
func SanitizeYAMLError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = quoted.ReplaceAllString(msg, "<value>")
	msg = strings.Map(func(r rune) rune {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, msg)
	// "field X not found in type Y" names the key and a Go type.
	if i := strings.Index(msg, "field "); i >= 0 && strings.Contains(msg, "not found in type") {
		msg = msg[:i] + "unknown key"
	}
	return strings.Join(strings.Fields(msg), " ")
}

var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true,
	"!!null": true, "!!timestamp": true, "!!map": true, "!!seq": true,
}

var (
	yamlNodeType = reflect.TypeOf(yaml.Node{})
	timeType     = reflect.TypeOf(time.Time{})
)

// Check walks the node tree against the Go type it will be decoded into and
// reports, by field path and line, what a strict decoder would report by line
// alone or with the offending text: unknown keys (never quoted: a value
// pasted at the wrong indentation lands in key position), duplicate keys and
// wrong kinds. It also refuses anchors, aliases and custom tags, which no
// input needs.
func Check(n *yaml.Node, t reflect.Type) Problems { return check(n, t, false) }

// check is Check; shipped names unknown keys and map keys, which a file
// the program ships (a profile) may show.
func check(n *yaml.Node, t reflect.Type, shipped bool) Problems {
	c := checker{vocabulary: map[string]bool{}, shipped: shipped}
	c.learn(t, map[reflect.Type]bool{})
	if n.ShortTag() == "!!null" && n.Kind == yaml.ScalarNode {
		// "~" or "null" alone: no document, not one with every field absent.
		return Problems{{Line: n.Line, Msg: "must be a mapping, found nothing"}}
	}
	c.check(n, t, "")
	return c.ps
}

// checker holds the problems found so far and every field name of the
// schema: an unknown key that is one of them is a schema word in the wrong
// place, not a value, and may be shown.
type checker struct {
	ps         Problems
	vocabulary map[string]bool
	shipped    bool
}

func (c *checker) learn(t reflect.Type, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == yamlNodeType || seen[t] {
		return
	}
	seen[t] = true
	for _, name := range fieldNames(t) {
		c.vocabulary[name] = true
		if ft, ok := fieldByKey(t, name); ok {
			c.learn(ft, seen)
		}
	}
}

func (c *checker) check(n *yaml.Node, t reflect.Type, path string) {
	ps := &c.ps
	fail := func(msg string) { *ps = append(*ps, &Problem{Path: path, Line: n.Line, Msg: msg}) }
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		fail("YAML anchors and aliases are not allowed")
		return
	}
	tag := n.ShortTag()
	if !standardTags[tag] {
		fail("custom YAML tags are not allowed")
		return
	}
	if t == yamlNodeType || t.Kind() == reflect.Interface {
		return // taken as it is and checked by its user
	}
	if tag == "!!null" {
		return // absent: the decoder leaves the zero value or the default
	}
	if t == timeType {
		// A struct to reflect, a scalar in YAML: a timestamp, or a string
		// time.Time reads as RFC 3339.
		if n.Kind != yaml.ScalarNode || (tag != "!!timestamp" && tag != "!!str") || n.Decode(new(time.Time)) != nil {
			fail("must be a time (RFC 3339, as 2026-12-06T08:00:00Z), found " + KindName(n))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		c.check(n, t.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			fail("must be a mapping, found " + KindName(n))
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				*ps = append(*ps, &Problem{Path: path, Line: k.Line, Msg: "keys must be plain strings"})
				continue
			}
			ft, ok := fieldByKey(t, k.Value)
			if !ok {
				// The message names the mapping, so Path stays empty.
				*ps = append(*ps, &Problem{Line: k.Line, Msg: c.unknownKey(t, k.Value, path)})
				continue
			}
			if seen[k.Value] {
				*ps = append(*ps, &Problem{Path: join(path, k.Value), Line: k.Line, Msg: "duplicate key"})
				continue
			}
			seen[k.Value] = true
			c.check(v, ft, join(path, k.Value))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			fail("must be a list, found " + KindName(n))
			return
		}
		for i, item := range n.Content {
			c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			fail("must be a mapping, found " + KindName(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			// Map keys are data: the path gets the entry's position,
			// or the key in a shipped file.
			at := fmt.Sprintf("%s{%d}", path, i/2)
			if k := n.Content[i]; c.shipped && k.Kind == yaml.ScalarNode {
				at = join(path, k.Value)
			}
			c.check(n.Content[i+1], t.Elem(), at)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			fail("must be a string, found " + KindName(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || tag != "!!int" {
			fail("must be an integer, found " + KindName(n))
		} else if n.Decode(reflect.New(t).Interface()) != nil {
			fail("integer out of range")
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") {
			fail("must be a number, found " + KindName(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || tag != "!!bool" {
			fail("must be true or false, found " + KindName(n))
		}
	default:
		fail("unsupported field type") // a schema change this walker does not know
	}
}

// unknownKey says where an unknown key is. It shows the key only when it is
// a field name somewhere in the schema; otherwise, when it differs from a
// field of the mapping only in case, it names that field.
func (c *checker) unknownKey(t reflect.Type, key, path string) string {
	msg := "unknown key"
	if c.vocabulary[key] || c.shipped {
		msg += " " + key
	}
	if path == "" {
		msg += " at the top level"
	} else {
		msg += " under " + path
	}
	for _, name := range fieldNames(t) {
		if strings.EqualFold(name, key) {
			return msg + " (did you mean " + name + "?)"
		}
	}
	return msg
}

// fieldByKey finds the field a key decodes into, looking into inline structs.
func fieldByKey(t reflect.Type, key string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if got, ok := fieldByKey(ft, key); ok {
					return got, true
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml.v3's default
		}
		if name == key {
			return f.Type, true
		}
	}
	return nil, false
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-":
		case strings.Contains(","+opts+",", ",inline,"):
			if ft := f.Type; ft.Kind() == reflect.Struct {
				names = append(names, fieldNames(ft)...)
			}
		case name == "":
			names = append(names, strings.ToLower(f.Name))
		default:
			names = append(names, name)
		}
	}
	return names
}

// KindName describes a node without quoting it.
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "nothing"
	}
	return "a string"
}

// Name shows a file name in an error: as it is when it is plain printable
// text, quoted and escaped otherwise.
func Name(file string) string {
	if q := strconv.Quote(file); q[1:len(q)-1] != file || strings.ContainsAny(file, " \"'`") {
		return q
	}
	return file
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
