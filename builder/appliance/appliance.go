// Package appliance writes the appliance layer into a root directory: the
// xroad-node binary, the generated units and baked files for a profile, and
// the wants links of the units the preset enables.
package appliance

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/atomicfile"
	"xroad-appliance/units"
)

// Install writes the layer under root. nodeBinary is the xroad-node
// executable to bake; readBase reads packaged units of the image being built
// (nil: the reference copies).
func Install(root string, facts *profiles.Facts, nodeBinary string, readBase units.BaseUnitReader) error {
	files, err := units.Bake(facts, readBase)
	if err != nil {
		return err
	}
	if err := units.WriteTree(root, files); err != nil {
		return err
	}
	if err := copyExecutable(nodeBinary, filepath.Join(root, units.NodeBinary)); err != nil {
		return err
	}
	for _, name := range presetEnabled(units.Preset(facts)) {
		if err := enable(root, files, name); err != nil {
			return err
		}
	}
	return nil
}

// presetEnabled lists the units a preset file enables.
func presetEnabled(preset []byte) []string {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(preset))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "enable" {
			names = append(names, f[1])
		}
	}
	return names
}

// enable links a baked unit into the .wants directory of every target its
// [Install] section names, as `systemctl enable` would.
func enable(root string, files []units.File, name string) error {
	for _, f := range files {
		if filepath.Base(f.Path) != name || !strings.Contains(f.Path, "/systemd/system/") {
			continue
		}
		opts, err := unit.DeserializeOptions(bytes.NewReader(f.Content))
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		for _, o := range opts {
			if o.Section != "Install" || o.Name != "WantedBy" {
				continue
			}
			for _, target := range strings.Fields(o.Value) {
				link := filepath.Join(root, "etc/systemd/system", target+".wants", name)
				if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
					return err
				}
				os.Remove(link)
				if err := os.Symlink(f.Path, link); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return fmt.Errorf("preset enables %s, which the appliance layer does not have", name)
}

func copyExecutable(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Copy(src, dst, 0o755); err != nil {
		return fmt.Errorf("xroad-node binary: %w", err)
	}
	return nil
}
