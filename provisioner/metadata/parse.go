package metadata

import (
	"errors"
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"

	"xroad-appliance/provisioner/inputfile"
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
	return "key " + e.Field + ": " + e.Msg
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
	return inputfile.JoinCapped(msgs)
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
// validates it. Errors name the field and never quote document values. A
// join document is refused with ErrJoinDocument.
func Parse(data []byte) (*Document, error) {
	return parse(data, validateOpts{})
}

func parse(data []byte, opts validateOpts) (*Document, error) {
	if isJoinSeed(data) {
		return nil, ErrJoinDocument
	}
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, err
	}
	if err := doc.validate(opts); err != nil {
		return nil, err
	}
	return doc, nil
}

// ParseSeed decodes what a node's seed carries: a role document, or a join
// document (told by a top-level join section without node; a primary's
// role document has both). Each is decoded strictly and validated, as
// Parse does. Without an error exactly one of the results is set.
func ParseSeed(data []byte) (*Document, *JoinDocument, error) {
	if !isJoinSeed(data) {
		doc, err := Parse(data)
		return doc, nil, err
	}
	j := &JoinDocument{Join: JoinTarget{Port: DefaultJoinPort}}
	if _, err := decodeStrict(data, j); err != nil {
		return nil, nil, err
	}
	if err := j.Validate(); err != nil {
		return nil, nil, err
	}
	return nil, j, nil
}

// isJoinSeed tells a join document by its top-level keys. Input that is
// not one YAML mapping is not one; decoding it reports why.
func isJoinSeed(data []byte) bool {
	if len(data) > MaxSize {
		return false
	}
	root, err := inputfile.ParseYAML(data)
	if err != nil || root.Kind != yaml.MappingNode {
		return false
	}
	var join, node bool
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "join":
			join = true
		case "node":
			node = true
		}
	}
	return join && !node
}

// decodeDocument decodes a role document strictly and applies the
// defaults, without validating it.
func decodeDocument(data []byte) (*Document, error) {
	// Defaults go in before decoding: yaml leaves absent fields untouched, so an
	// explicit healthCheckPort: 0 stays 0 (and is rejected) while a missing one
	// becomes the default. The join section is a pointer, allocated with its
	// default when the document has one.
	doc := &Document{
		Options: Options{
			HealthCheckPort:      DefaultHealthCheckPort,
			HealthCheckInterface: DefaultHealthCheckInterface,
		},
		Join: &Join{Port: DefaultJoinPort},
	}
	checked, err := decodeStrict(data, doc)
	if err != nil {
		return nil, err
	}
	if checked.Value("join") == nil {
		doc.Join = nil
	}
	if len(doc.Secondaries) == 0 {
		doc.Secondaries = nil // "secondaries: []" and an absent list are the same
	}
	if doc.Join != nil {
		if len(doc.Join.Tokens) == 0 {
			doc.Join.Tokens = nil
		}
		for i := range doc.Join.Tokens {
			doc.Join.Tokens[i].Expires = doc.Join.Tokens[i].Expires.UTC()
		}
	}
	if doc.Role.IsCentralServer() && checked.Value("options") == nil {
		doc.Options = Options{} // the defaults are the security server's
	}
	return doc, nil
}

// decodeStrict decodes one YAML document into v, a pointer to a struct
// holding the defaults, checked against v's type: a second document
// ("role: secondary\n---\nrole: primary") must not be read differently by
// different tools, and unknown keys are reported without quoting them.
func decodeStrict(data []byte, v any) (checked *inputfile.Document, err error) {
	if len(data) > MaxSize {
		return nil, &FieldError{Msg: fmt.Sprintf("larger than %d bytes", MaxSize)}
	}
	// yaml.v3 has panicked on malformed input before; a first-boot program
	// must fail with an error, not crash in a restart loop.
	defer func() {
		if r := recover(); r != nil {
			checked, err = nil, &FieldError{Msg: "YAML decoder failed on malformed input"}
		}
	}()
	checked, err = inputfile.ParseDocument("", data, reflect.ValueOf(v).Elem().Interface())
	if err != nil {
		return nil, shapeErrors(err)
	}
	if err := checked.Decode(v); err != nil {
		return nil, shapeErrors(err)
	}
	return checked, nil
}

// shapeErrors turns what inputfile found into FieldErrors: what the
// schema check found is a ValidationError (as Validate's findings are), a
// document that is not one YAML document a FieldError.
func shapeErrors(err error) error {
	ps, ok := inputfile.ProblemsOf(err)
	if !ok {
		return &FieldError{Msg: inputfile.SanitizeYAMLError(err)}
	}
	if _, checked := errors.AsType[inputfile.Problems](err); !checked && len(ps) == 1 {
		return fieldErrors(ps)[0]
	}
	return &ValidationError{Fields: fieldErrors(ps)}
}

func fieldErrors(ps inputfile.Problems) []*FieldError {
	fields := make([]*FieldError, len(ps))
	for i, p := range ps {
		fields[i] = &FieldError{Field: p.Path, Msg: p.Text()}
	}
	return fields
}
