package kit

import (
	"bytes"

	"gopkg.in/yaml.v3"
)

// marshalYAML renders v as YAML indented by two spaces, after header (a
// comment or a marker line such as #cloud-config, with its newline).
func marshalYAML(header string, v any) ([]byte, error) {
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
