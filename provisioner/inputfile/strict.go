package inputfile

import (
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"
)

// Document is one YAML input checked against the Go type it is decoded
// into: exactly one document, known keys only, every value of its field's
// kind, no anchors, aliases or custom tags.
type Document struct {
	file string
	root *yaml.Node
}

// ParseDocument parses data (read from file) as one document of shape's
// type. Its errors are "FILE: key PATH: line N: PROBLEM", several joined
// with "; " (at most MaxProblems), never quoting the input; errors.As finds
// the Problems in them.
func ParseDocument(file string, data []byte, shape any) (*Document, error) {
	return parseDocument(file, data, shape, false)
}

func parseDocument(file string, data []byte, shape any, shipped bool) (*Document, error) {
	root, err := ParseYAML(data)
	if err != nil {
		return nil, InFile(file, err)
	}
	if ps := check(root, reflect.TypeOf(shape), shipped); len(ps) > 0 {
		return nil, InFile(file, ps)
	}
	return &Document{file: file, root: root}, nil
}

// DecodeYAML parses data strictly (see ParseDocument) and decodes it into
// v, which may hold defaults: an absent key keeps them.
func DecodeYAML(file string, data []byte, v any) error { return decode(file, data, v, false) }

// DecodeShippedYAML is DecodeYAML for a file the program ships (a profile):
// its errors name unknown keys and map keys, which an operator's input
// could have a secret in.
func DecodeShippedYAML(file string, data []byte, v any) error { return decode(file, data, v, true) }

func decode(file string, data []byte, v any, shipped bool) error {
	doc, err := parseDocument(file, data, reflect.ValueOf(v).Elem().Interface(), shipped)
	if err != nil {
		return err
	}
	return doc.Decode(v)
}

// Decode decodes the document into v (of the shape it was checked against).
func (d *Document) Decode(v any) error {
	if err := Decode(d.root, v); err != nil {
		return InFile(d.file, err)
	}
	return nil
}

// Value is the value of the top-level key, or nil when the document does
// not have it.
func (d *Document) Value(key string) *yaml.Node {
	for i := 0; i+1 < len(d.root.Content); i += 2 {
		if d.root.Content[i].Value == key {
			return d.root.Content[i+1]
		}
	}
	return nil
}

// FileError is an error of one input file: "FILE: ERR".
type FileError struct {
	File string
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// InFile names file in err; "" leaves err as it is.
func InFile(file string, err error) error {
	if file == "" {
		return err
	}
	return &FileError{File: file, Err: err}
}

// KeyError is a problem with one key of an input: "key PATH: ERR". The
// problem may wrap its cause.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return "key " + e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// KeyErrorf is a KeyError for key; a %w in format wraps its cause.
func KeyErrorf(key, format string, args ...any) error {
	return &KeyError{Key: key, Err: fmt.Errorf(format, args...)}
}
