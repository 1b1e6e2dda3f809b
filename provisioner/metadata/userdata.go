package metadata

import (
	"fmt"
)

// FromUserData returns the document carried by a #cloud-config user-data
// (its write_files entry at RoleFile: a role document or a join document,
// see ParseSeed), or data itself when it is not cloud-config: so that
// `validate` and `plan` take either. It applies the checks a node applies
// to the seed's user-data at first boot.
func FromUserData(data []byte) ([]byte, error) {
	if !isCloudConfig(data) {
		return data, nil
	}
	doc, note, err := roleFromUserData(data)
	if err == nil && doc == nil {
		return nil, fmt.Errorf("user-data carries no role document (%s)", note)
	}
	return doc, err
}
