package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxSize bounds a metadata document. Real documents are a few kilobytes
// (certificates and keys); the bound keeps a hostile seed from exhausting memory.
const MaxSize = 1 << 20

// Defaults applied when options leave a field out. Appliances always run the
// health check: the load balancer depends on it (guide 3.4).
const (
	DefaultHealthCheckPort      = 5588
	DefaultHealthCheckInterface = "0.0.0.0"
)

// FieldError is a problem with one field of the document. Its message never
// contains a value taken from the document: values may be secrets, and even
// non-secret values are attacker-controlled text on their way into the journal.
type FieldError struct {
	// Field is the YAML path ("tls.cert", "secondaries[1].name"); empty for
	// the document as a whole.
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "metadata document: " + e.Msg
	}
	return "field " + e.Field + ": " + e.Msg
}

// ValidationError collects every FieldError of a document so that an operator
// can fix them in one round.
type ValidationError struct {
	Fields []*FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap lets errors.As find the individual FieldErrors.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Fields))
	for i, f := range e.Fields {
		errs[i] = f
	}
	return errs
}

// Parse decodes one metadata document strictly, applies defaults and
// validates it. Errors name the field and never quote document values.
func Parse(data []byte) (*Document, error) {
	return parse(data, validateOpts{})
}

func parse(data []byte, opts validateOpts) (doc *Document, err error) {
	if len(data) > MaxSize {
		return nil, &FieldError{Msg: fmt.Sprintf("larger than %d bytes", MaxSize)}
	}
	// yaml.v3 has panicked on malformed input before; a first-boot program
	// must fail with an error, not crash in a restart loop.
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, &FieldError{Msg: "YAML decoder failed on malformed input"}
		}
	}()

	root, err := decodeSingleNode(data)
	if err != nil {
		return nil, err
	}
	var shape []*FieldError
	checkShape(root, reflect.TypeOf(Document{}), "", &shape)
	if len(shape) > 0 {
		return nil, &ValidationError{Fields: shape}
	}

	// Defaults go in before decoding: yaml leaves absent fields untouched, so an
	// explicit healthCheckPort: 0 stays 0 (and is rejected) while a missing one
	// becomes the default.
	doc = &Document{Options: Options{
		HealthCheckPort:      DefaultHealthCheckPort,
		HealthCheckInterface: DefaultHealthCheckInterface,
	}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(doc); err != nil {
		// checkShape should have caught everything; never pass yaml's text on
		// unfiltered, it can quote fragments of values.
		return nil, &FieldError{Msg: "YAML decoding failed: " + sanitizeYAMLError(err)}
	}
	if len(doc.Secondaries) == 0 {
		doc.Secondaries = nil // "secondaries: []" and an absent list are the same
	}
	if doc.Role.IsCentralServer() && !hasKey(root, "options") {
		doc.Options = Options{} // the defaults are the security server's
	}
	if err := doc.validate(opts); err != nil {
		return nil, err
	}
	return doc, nil
}

// decodeSingleNode parses the stream into a node tree and refuses a second
// document: a stream like "role: secondary\n---\nrole: primary" must not be
// read differently by different tools.
func decodeSingleNode(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{Msg: "empty"}
		}
		return nil, &FieldError{Msg: "invalid YAML: " + sanitizeYAMLError(err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, &FieldError{Msg: "invalid YAML after the first document: " + sanitizeYAMLError(err)}
	default:
		return nil, &FieldError{Msg: "a second YAML document follows the first; exactly one is allowed"}
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return nil, &FieldError{Msg: "empty"}
	}
	return root.Content[0], nil
}

var backquoted = regexp.MustCompile("`[^`]*`|\"[^\"]*\"")

// sanitizeYAMLError drops quoted fragments from a yaml error: type errors
// quote up to ten characters of the offending value.
func sanitizeYAMLError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = backquoted.ReplaceAllString(msg, "<value>")
	return strings.Join(strings.Fields(msg), " ")
}

var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true,
	"!!null": true, "!!timestamp": true, "!!map": true, "!!seq": true,
}

// checkShape walks the node tree against the Go type and reports, with the
// field path, what the strict decoder would report with a line number only:
// unknown keys, duplicate keys, wrong kinds. It also refuses anchors, aliases
// and custom tags, which a generated document never needs.
func checkShape(n *yaml.Node, t reflect.Type, path string, errs *[]*FieldError) {
	fail := func(msg string) { *errs = append(*errs, &FieldError{Field: path, Msg: msg}) }
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		fail("YAML anchors and aliases are not allowed")
		return
	}
	tag := n.ShortTag()
	if !standardTags[tag] {
		fail("custom YAML tags are not allowed")
		return
	}
	if tag == "!!null" {
		return // absent: the decoder leaves the zero value or the default
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkShape(n, t.Elem(), path, errs)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			fail("must be a mapping, found " + kindName(n))
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				fail("keys must be plain strings")
				continue
			}
			f, ok := fieldByKey(t, k.Value)
			if !ok {
				*errs = append(*errs, &FieldError{Field: join(path, safeKey(k.Value)), Msg: "unknown field"})
				continue
			}
			if seen[k.Value] {
				*errs = append(*errs, &FieldError{Field: join(path, k.Value), Msg: "duplicate key"})
				continue
			}
			seen[k.Value] = true
			checkShape(v, f.Type, join(path, k.Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			fail("must be a list, found " + kindName(n))
			return
		}
		for i, item := range n.Content {
			checkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			fail("must be a string, found " + kindName(n))
		}
	case reflect.Int:
		var v int
		if n.Kind != yaml.ScalarNode || tag != "!!int" || n.Decode(&v) != nil {
			fail("must be an integer, found " + kindName(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || tag != "!!bool" {
			fail("must be true or false, found " + kindName(n))
		}
	default:
		fail("unsupported field type") // a schema change this walker does not know
	}
}

// kindName describes a node without quoting it.
func kindName(n *yaml.Node) string {
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
	}
	return "a string"
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == key && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

var identifier = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,39}$`)

// safeKey shows an unknown key only when it looks like a field name; anything
// else could be a value pasted in the wrong place.
func safeKey(k string) string {
	if identifier.MatchString(k) {
		return k
	}
	return "<unprintable key>"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// hasKey tells whether the document's top-level mapping has key.
func hasKey(root *yaml.Node, key string) bool {
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key {
			return true
		}
	}
	return false
}
