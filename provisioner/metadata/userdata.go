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

// ToUserData wraps a role or join document in the #cloud-config user-data
// a node reads: one write_files entry for RoleFile, root's and 0600, which
// cloud-init writes early in the boot with that mode, so that the document's
// secrets never sit readable by others.
func ToUserData(doc []byte) ([]byte, error) {
	type file struct {
		Path        string `yaml:"path"`
		Owner       string `yaml:"owner"`
		Permissions string `yaml:"permissions"`
		Content     string `yaml:"content"`
	}
	cc := struct {
		WriteFiles []file `yaml:"write_files"`
	}{[]file{{Path: RoleFile, Owner: "root:root", Permissions: "0600", Content: string(doc)}}}
	return EncodeYAML("#cloud-config\n", cc)
}
