package metadata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstanceName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		files  map[string]string
		want   string
		source string
	}{
		{"instance data", map[string]string{
			InstanceDataFile: `{"v1": {"local_hostname": "SS4.cluster.example.org", "instance_id": "i-1"}, "ds": {}}`,
		}, "ss4", InstanceDataFile},
		{"instance data wins", map[string]string{
			InstanceDataFile:       `{"v1": {"local_hostname": "ss4"}}`,
			SeedDir + "/meta-data": "local-hostname: ss9\n",
		}, "ss4", InstanceDataFile},
		{"nocloud meta-data", map[string]string{
			SeedDir + "/meta-data":    "instance-id: iid-1\nlocal-hostname: ss5.example.org\nnetwork-interfaces: |\n  auto eth0\n",
			SeedDirNet + "/meta-data": "local-hostname: ss9\n",
		}, "ss5", SeedDir + "/meta-data"},
		{"nocloud-net meta-data", map[string]string{
			SeedDirNet + "/meta-data": "{\"instance-id\": \"x\", \"local-hostname\": \"Ss6\"}\n",
		}, "ss6", SeedDirNet + "/meta-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, data := range tc.files {
				putFile(t, filepath.Join(root, p), []byte(data), 0o644)
			}
			name, source, err := InstanceName(root)
			if err != nil || name != tc.want || source != tc.source {
				t.Fatalf("%q from %s: %v", name, source, err)
			}
		})
	}
}

func TestInstanceNameRejects(t *testing.T) {
	const hostile = "Evil\x1b[2Jname"
	id, md := InstanceDataFile, SeedDir+"/meta-data"
	for _, tc := range []struct {
		name, file, data, want string
	}{
		{"reserved", id, `{"v1": {"local_hostname": "postgres.example.org"}}`, id + ": key v1.local_hostname: is a reserved"},
		{"underscore", id, `{"v1": {"local_hostname": "ss_4"}}`, id + ": key v1.local_hostname: must be 1-63"},
		{"empty", id, `{"v1": {"local_hostname": ""}}`, id + ": key v1.local_hostname: required"},
		{"leading dot", id, `{"v1": {"local_hostname": ".example.org"}}`, id + ": key v1.local_hostname: required"},
		{"control characters", id, `{"v1": {"local_hostname": "` + strings.ReplaceAll(hostile, "\x1b", `\u001b`) + `"}}`, id + ": key v1.local_hostname: must be 1-63"},
		{"Kelvin sign", id, `{"v1": {"local_hostname": "\u212Ass4"}}`, id + ": key v1.local_hostname: must be 1-63"},
		{"digit first", id, `{"v1": {"local_hostname": "4ss"}}`, id + ": key v1.local_hostname: must be 1-63"},
		{"missing", id, `{"v1": {"instance_id": "i-1"}}`, id + ": key v1.local_hostname: missing"},
		{"null", id, `{"v1": {"local_hostname": null}}`, id + ": key v1.local_hostname: missing"},
		{"number", id, `{"v1": {"local_hostname": 4}}`, id + ": key v1.local_hostname: of the wrong type (found number)"},
		{"v1 a string", id, `{"v1": "Evil"}`, id + ": key v1: of the wrong type (found string)"},
		{"not JSON", id, "v1: {" + hostile, id + ": not valid JSON"},
		{"meta-data reserved", md, "local-hostname: all\n", md + ": key local-hostname: is a reserved"},
		{"meta-data list", md, "local-hostname: [Evil]\n", md + ": key local-hostname: line 1: must be a string, found a list"},
		{"meta-data number", md, "local-hostname: 12\n", md + ": key local-hostname: line 1: must be a string, found an integer"},
		{"meta-data missing", md, "instance-id: x\n", md + ": key local-hostname: missing"},
		{"meta-data not a mapping", md, "- Evil\n", md + ": must be a mapping, found a list"},
		{"meta-data broken", md, "local-hostname: \"" + hostile + "\n", md + ": invalid YAML"},
		{"meta-data two documents", md, "local-hostname: ss4\n---\nlocal-hostname: ss5\n", md + ": line 2: a second YAML document"},
		{"nothing", "", "", "no host name to take the node's name from: looked for " + id},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.file != "" {
				putFile(t, filepath.Join(root, tc.file), []byte(tc.data), 0o644)
			}
			name, _, err := InstanceName(root)
			if err == nil {
				t.Fatalf("accepted %q", name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want %q, got %v", tc.want, err)
			}
			if strings.Contains(err.Error(), "Evil") || strings.ContainsRune(err.Error(), 0x1b) {
				t.Errorf("error quotes the value: %q", err)
			}
		})
	}
	t.Run("a directory", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, InstanceDataFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, _, err := InstanceName(root); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("got %v", err)
		}
	})
}
