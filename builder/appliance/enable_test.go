package appliance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnableUnits(t *testing.T) {
	image, layer := t.TempDir(), t.TempDir()
	units := map[string]string{
		"usr/lib/systemd/system/net.service":    "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlias=dbus-org.example.net.service\nAlso=net.socket\n",
		"usr/lib/systemd/system/net.socket":     "[Socket]\nListenStream=/run/net\n[Install]\nWantedBy=sockets.target\n",
		"usr/lib/systemd/system/static.service": "[Service]\nExecStart=/bin/true\n",
	}
	for p, c := range units {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(image, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(image, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("usr/lib", filepath.Join(image, "lib")); err != nil {
		t.Fatal(err)
	}
	if err := EnableUnits(layer, []string{layer, image}, []string{"net.service"}); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"etc/systemd/system/multi-user.target.wants/net.service": "/lib/systemd/system/net.service",
		"etc/systemd/system/dbus-org.example.net.service":        "/lib/systemd/system/net.service",
		"etc/systemd/system/sockets.target.wants/net.socket":     "/lib/systemd/system/net.socket",
	} {
		if got, err := os.Readlink(filepath.Join(layer, link)); err != nil || got != target {
			t.Errorf("%s -> %q, %v; want %s", link, got, err, target)
		}
	}
	if err := EnableUnits(layer, []string{layer, image}, []string{"static.service"}); err == nil || !strings.Contains(err.Error(), "no [Install] section") {
		t.Errorf("static unit: %v", err)
	}
	if err := EnableUnits(layer, []string{layer, image}, []string{"missing.service"}); err == nil || !strings.Contains(err.Error(), "unit missing.service") {
		t.Errorf("missing unit: %v", err)
	}
}
