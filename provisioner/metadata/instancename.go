package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"xroad-appliance/provisioner/inputfile"
)

// Where cloud-init keeps the instance's meta-data, relative to a root.
const (
	// InstanceDataFile is cloud-init's standardized instance data, written
	// for every data source.
	InstanceDataFile = "/run/cloud-init/instance-data.json"
	// instanceDataKey is the host name's key in it.
	instanceDataKey = "v1.local_hostname"
	// metaDataKey is the host name's key in NoCloud meta-data.
	metaDataKey = "local-hostname"
)

// InstanceName is the name a joining node takes: the host name its cloud
// gives it in cloud-init's meta-data, cut to its first DNS label and
// lowercased, then checked as a node name. It reads InstanceDataFile
// (v1.local_hostname) when present, else the NoCloud seed's meta-data
// (local-hostname) in SeedDir, then SeedDirNet. source is the file the
// name came from; errors name the file and the key and never quote the value.
func InstanceName(root string) (name, source string, err error) {
	if root == "" {
		root = "/"
	}
	raw, err := inputfile.ReadWith(filepath.Join(root, InstanceDataFile), InstanceDataFile, inputfile.Options{})
	switch {
	case err == nil:
		host, err := instanceDataHostname(raw)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", InstanceDataFile, err)
		}
		name, err := nodeName(host)
		if err != nil {
			return "", "", fmt.Errorf("%s: key %s: %w", InstanceDataFile, instanceDataKey, err)
		}
		return name, InstanceDataFile, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", "", err
	}
	for _, dir := range []string{SeedDir, SeedDirNet} {
		file := dir + "/meta-data"
		raw, err := inputfile.ReadWith(filepath.Join(root, file), file, inputfile.Options{})
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", "", err
		}
		host, err := metaDataHostname(raw)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", file, err)
		}
		name, err := nodeName(host)
		if err != nil {
			return "", "", fmt.Errorf("%s: key %s: %w", file, metaDataKey, err)
		}
		return name, file, nil
	}
	return "", "", fmt.Errorf("no host name to take the node's name from: looked for %s, %s/meta-data and %s/meta-data",
		InstanceDataFile, SeedDir, SeedDirNet)
}

// instanceDataHostname reads v1.local_hostname.
func instanceDataHostname(raw []byte) (string, error) {
	var data struct {
		V1 struct {
			LocalHostname *string `json:"local_hostname"`
		} `json:"v1"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		// The JSON error may quote the input; only its kind is told.
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return "", fmt.Errorf("key %s: of the wrong type (found %s)", typeErr.Field, typeErr.Value)
		}
		return "", errors.New("not valid JSON")
	}
	if data.V1.LocalHostname == nil {
		return "", fmt.Errorf("key %s: missing", instanceDataKey)
	}
	return *data.V1.LocalHostname, nil
}

// metaDataHostname reads local-hostname from NoCloud meta-data (YAML, of
// which only this key is read).
func metaDataHostname(raw []byte) (string, error) {
	root, err := inputfile.ParseYAML(raw)
	if err != nil {
		return "", err
	}
	if root.Kind != yaml.MappingNode {
		return "", fmt.Errorf("must be a mapping, found %s", inputfile.KindName(root))
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != metaDataKey {
			continue
		}
		v := root.Content[i+1]
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
			return "", fmt.Errorf("key %s: line %d: must be a string, found %s", metaDataKey, v.Line, inputfile.KindName(v))
		}
		return v.Value, nil
	}
	return "", fmt.Errorf("key %s: missing", metaDataKey)
}

// nodeName is a host name's first DNS label, lowercased, if it is a valid
// node name: clouds hand out fully qualified and mixed-case names. Only
// ASCII letters are lowercased: Unicode folds some letters (K, the Kelvin
// sign) into ASCII ones, which would let a foreign name pass.
func nodeName(host string) (string, error) {
	label, _, _ := strings.Cut(host, ".")
	name := strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, label)
	if msg := NameProblem(name, true); msg != "" {
		return "", errors.New(msg)
	}
	return name, nil
}
