package units

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"xroad-appliance/profiles"
)

// TestSystemdVerify runs systemd-analyze verify over the rendered units of
// every profile in a scratch root holding this host's systemd units, Debian's
// cloud-init units and the executables the units name. Any output fails.
func TestSystemdVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("needs systemd-analyze and Debian's cloud-init package")
	}
	cloudInit := cloudInitUnits(t)
	node := filepath.Join(t.TempDir(), "xroad-node")
	if out, err := exec.Command("go", "build", "-o", node, "xroad-appliance/cmd/xroad-node").CombinedOutput(); err != nil {
		t.Fatalf("build xroad-node: %v\n%s", err, out)
	}
	eachProfileVersion(t, func(t *testing.T, _ string, f *profiles.Facts) {
		root := scratchRoot(t, cloudInit, node, f)
		files, err := Bake(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteTree(root, files); err != nil {
			t.Fatal(err)
		}
		targets := []string{SyncServicePath, SyncTimerPath, ProvisionUnitPath, "multi-user.target"}
		if f.PG.Serverconf.UnitFile != "" {
			targets = append(targets, expandInclude(t, root, f.PG.Serverconf.UnitFile))
		}
		for _, s := range f.XRoad.Services {
			targets = append(targets, "/usr/lib/systemd/system/"+s+".service")
		}
		// Enable what an image enables, so that multi-user.target's start
		// transaction holds the provisioner, cloud-init and the X-Road services
		// together and an ordering cycle among them would show.
		enable := append([]string{"cloud-init-local.service", "cloud-init.service", "cloud-config.service", "cloud-final.service", "xroad-provision.service"}, f.XRoad.Services...)
		if out, err := exec.Command("systemctl", append([]string{"--root=" + root, "enable"}, enable...)...).CombinedOutput(); err != nil {
			t.Fatalf("systemctl enable: %v\n%s", err, out)
		}
		// cloud-init's generator links cloud-init.target at boot; do it here.
		link(t, "/usr/lib/systemd/system/cloud-init.target", filepath.Join(root, "etc/systemd/system/multi-user.target.wants/cloud-init.target"))
		verify(t, root, targets)
	})
}

// TestSystemdVerifyCatchesTheCloudFinalCycle proves the verify test can fail:
// the ordering the field notes warn about must be reported.
func TestSystemdVerifyCatchesTheCloudFinalCycle(t *testing.T) {
	if testing.Short() {
		t.Skip("needs systemd-analyze and Debian's cloud-init package")
	}
	f, err := profiles.Resolve("debian-12", "")
	if err != nil {
		t.Fatal(err)
	}
	root := scratchRoot(t, cloudInitUnits(t), "/usr/bin/true", f)
	files, _ := Bake(f, nil)
	if err := WriteTree(root, files); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(fileAt(t, files, ProvisionUnitPath), []byte("After=cloud-init.service"), []byte("After=cloud-final.service cloud-init.service"), 1)
	os.WriteFile(filepath.Join(root, ProvisionUnitPath), bad, 0o644)
	exec.Command("systemctl", "--root="+root, "enable", "cloud-init.service", "cloud-final.service", "xroad-provision.service").Run()
	link(t, "/usr/lib/systemd/system/cloud-init.target", filepath.Join(root, "etc/systemd/system/multi-user.target.wants/cloud-init.target"))
	out, _ := exec.Command("systemd-analyze", "verify", "--root="+root, "multi-user.target").CombinedOutput()
	if !strings.Contains(string(out), "ordering cycle") {
		t.Fatalf("verify did not report the cloud-final cycle:\n%s", out)
	}
}

func verify(t *testing.T, root string, targets []string) {
	t.Helper()
	args := []string{"verify", "--root=" + root}
	for _, u := range targets {
		if strings.HasPrefix(u, "/") {
			u = filepath.Join(root, u)
		}
		args = append(args, u)
	}
	cmd := exec.Command("systemd-analyze", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	// systemd-analyze verify exits 0 on warnings: any output is a finding.
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// scratchRoot makes a root with the host's systemd units, cloud-init's units,
// stand-ins for the X-Road services and the executables the units start.
func scratchRoot(t *testing.T, cloudInit, node string, f *profiles.Facts) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"usr/lib/systemd", "usr/bin", "etc/systemd/system"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	for _, l := range []string{"lib", "bin", "sbin"} {
		os.Symlink("usr/"+l, filepath.Join(root, l))
	}
	os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755)
	run(t, "cp", "-a", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/"))
	run(t, "cp", "-a", cloudInit+"/.", filepath.Join(root, "usr/lib/systemd/system/"))
	for _, b := range []string{"/usr/bin/test", "/usr/bin/rsync"} {
		run(t, "cp", b, filepath.Join(root, b))
	}
	run(t, "cp", node, filepath.Join(root, NodeBinary))
	for _, s := range f.XRoad.Services {
		stand := "[Unit]\nDescription=stand-in for " + s + "\n[Service]\nExecStart=/usr/bin/test -d /etc\n[Install]\nWantedBy=multi-user.target\n"
		os.WriteFile(filepath.Join(root, "usr/lib/systemd/system", s+".service"), []byte(stand), 0o644)
	}
	if base := f.PG.Serverconf.BaseUnit; base != "" {
		content, err := UpstreamUnit(base)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, "usr/lib/systemd/system", filepath.Base(base))
		os.WriteFile(dst, content, 0o644)
		// The packaged unit's executables, which this Debian host lacks.
		for _, exe := range execPaths(content) {
			os.MkdirAll(filepath.Join(root, filepath.Dir(exe)), 0o755)
			run(t, "cp", "/usr/bin/true", filepath.Join(root, exe))
		}
	}
	return root
}

// expandInclude writes the include-unit form expanded (the packaged unit
// followed by the overrides), which is what systemd before v250 reads; this
// host's systemd no longer parses .include. Returns the path to verify.
func expandInclude(t *testing.T, root, unitFile string) string {
	t.Helper()
	content, err := os.ReadFile(filepath.Join(root, unitFile))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		line := sc.Text()
		if inc, ok := strings.CutPrefix(line, ".include "); ok {
			base, err := os.ReadFile(filepath.Join(root, inc))
			if err != nil {
				t.Fatalf(".include %s: %v", inc, err)
			}
			out.Write(base)
			continue
		}
		out.WriteString(line + "\n")
	}
	os.WriteFile(filepath.Join(root, unitFile), out.Bytes(), 0o644)
	return unitFile
}

func execPaths(unitContent []byte) []string {
	var out []string
	for _, line := range strings.Split(string(unitContent), "\n") {
		for _, key := range []string{"ExecStart=", "ExecStartPre=", "ExecReload="} {
			if v, ok := strings.CutPrefix(line, key); ok {
				out = append(out, strings.Fields(strings.TrimLeft(v, "-@+!"))[0])
			}
		}
	}
	return out
}

// cloudInitUnits extracts Debian's cloud-init package once into the cache and
// returns its systemd unit directory.
func cloudInitUnits(t *testing.T) string {
	t.Helper()
	cache := filepath.Join(cacheRoot(t), "cloud-init-units")
	units := filepath.Join(cache, "lib/systemd/system")
	if _, err := os.Stat(filepath.Join(units, "cloud-final.service")); err == nil {
		return units
	}
	tmp, err := os.MkdirTemp(filepath.Dir(cache), "cloud-init-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dl := exec.Command("apt-get", "download", "cloud-init")
	dl.Dir = tmp
	if out, err := dl.CombinedOutput(); err != nil {
		t.Fatalf("apt-get download cloud-init: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "cloud-init_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("expected one cloud-init package, got %v", debs)
	}
	run(t, "dpkg-deb", "-x", debs[0], filepath.Join(tmp, "x"))
	os.RemoveAll(cache)
	if err := os.Rename(filepath.Join(tmp, "x"), cache); err != nil {
		t.Fatal(err)
	}
	return units
}

func cacheRoot(t *testing.T) string {
	dir := os.Getenv("XROAD_APPLIANCE_CACHE")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(base, "xroad-appliance")
	}
	os.MkdirAll(dir, 0o755)
	return dir
}

func link(t *testing.T, target, name string) {
	os.MkdirAll(filepath.Dir(name), 0o755)
	os.Remove(name)
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
