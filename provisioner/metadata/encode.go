package metadata

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// encode is the one YAML encoding of the documents: two-space indents.
func encode(v any) ([]byte, error) {
	b, err := EncodeYAML("", v)
	if err != nil {
		return nil, fmt.Errorf("metadata: encoding document: %w", err)
	}
	return b, nil
}

// EncodeYAML renders v as YAML indented by two spaces after header (a
// comment or a marker line such as #cloud-config, with its newline): the
// form of the role and join documents, user-data and the kit's own files.
func EncodeYAML(header string, v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
