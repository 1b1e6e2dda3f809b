package metadata

import (
	"errors"
	"fmt"

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

	// One YAML document, checked against the Go type: a second document
	// ("role: secondary\n---\nrole: primary") must not be read differently by
	// different tools, and unknown keys are reported without quoting them.
	checked, err := inputfile.ParseDocument("", data, Document{})
	if err != nil {
		return nil, shapeErrors(err)
	}

	// Defaults go in before decoding: yaml leaves absent fields untouched, so an
	// explicit healthCheckPort: 0 stays 0 (and is rejected) while a missing one
	// becomes the default.
	doc = &Document{Options: Options{
		HealthCheckPort:      DefaultHealthCheckPort,
		HealthCheckInterface: DefaultHealthCheckInterface,
	}}
	if err := checked.Decode(doc); err != nil {
		return nil, shapeErrors(err)
	}
	if len(doc.Secondaries) == 0 {
		doc.Secondaries = nil // "secondaries: []" and an absent list are the same
	}
	if doc.Role.IsCentralServer() && checked.Value("options") == nil {
		doc.Options = Options{} // the defaults are the security server's
	}
	if err := doc.validate(opts); err != nil {
		return nil, err
	}
	return doc, nil
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
