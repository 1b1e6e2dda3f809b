package appliance

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"xroad-appliance/builder/rootfs"
)

// unitDirs are where systemd looks for unit files, in its order.
var unitDirs = []string{"/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}

// FindUnit looks a unit up in the image's unit directories across roots
// (the appliance layer first, then the merged package layer and base) and
// returns its path in the image and its content.
func FindUnit(roots []string, name string) (string, []byte, error) {
	for _, root := range roots {
		for _, dir := range unitDirs {
			p := path.Join(dir, name)
			b, err := rootfs.ReadFile(root, p)
			if err == nil {
				return p, b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", nil, fmt.Errorf("unit %s: %w", name, err)
			}
		}
	}
	return "", nil, fmt.Errorf("unit %s: in none of %s", name, strings.Join(unitDirs, ", "))
}

// EnableUnits enables units the image definition names, as `systemctl
// enable` would: a link in the .wants/ or .requires/ directory of every
// target the unit's [Install] section names, its Alias= links, and the units
// its Also= names. The links are written under root (the appliance layer);
// roots are searched for the units.
func EnableUnits(root string, roots []string, names []string) error {
	done := map[string]bool{}
	for len(names) > 0 {
		name := names[0]
		names = names[1:]
		if done[name] {
			continue
		}
		done[name] = true
		unitPath, content, err := FindUnit(roots, name)
		if err != nil {
			return err
		}
		also, err := enableOne(root, name, unitPath, content)
		if err != nil {
			return err
		}
		names = append(names, also...)
	}
	return nil
}

func enableOne(root, name, unitPath string, content []byte) (also []string, err error) {
	opts, err := unit.DeserializeOptions(bytes.NewReader(content))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", unitPath, err)
	}
	installed := false
	for _, o := range opts {
		if o.Section != "Install" {
			continue
		}
		for _, v := range strings.Fields(o.Value) {
			var link string
			switch o.Name {
			case "WantedBy":
				link = path.Join("/etc/systemd/system", v+".wants", name)
			case "RequiredBy":
				link = path.Join("/etc/systemd/system", v+".requires", name)
			case "Alias":
				link = path.Join("/etc/systemd/system", v)
			case "Also":
				also = append(also, v)
				continue
			default:
				continue
			}
			if strings.Contains(v, "/") {
				return nil, fmt.Errorf("%s: [Install] %s=%s is not a unit name", unitPath, o.Name, v)
			}
			if err := symlink(root, link, unitPath); err != nil {
				return nil, err
			}
			installed = true
		}
	}
	if !installed && len(also) == 0 {
		return nil, fmt.Errorf("%s: no [Install] section: it cannot be enabled", unitPath)
	}
	return also, nil
}

// symlink makes link (an image path) under root point at target.
func symlink(root, link, target string) error {
	p := filepath.Join(root, link)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Symlink(target, p)
}
