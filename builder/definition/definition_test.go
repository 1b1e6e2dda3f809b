package definition

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func shipped(t *testing.T) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "../../images/securityserver.yaml")
}

func TestShippedDefinitionResolves(t *testing.T) {
	d, err := Load(shipped(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if r.Facts.Name != "ubuntu-24.04" || r.Version != "7.8.0" || r.Tag() != "xroad-securityserver:7.8.0-ubuntu-24.04" {
		t.Fatalf("resolved %s %s %s", r.Facts.Name, r.Version, r.Tag())
	}
	for _, want := range []string{"xroad-securityserver", "postgresql-16", "systemd", "cloud-init", "linux-image-virtual", "systemd-boot"} {
		found := false
		for _, p := range r.Packages {
			found = found || p == want
		}
		if !found {
			t.Errorf("packages %v lack %s", r.Packages, want)
		}
	}
	if !d.Base.Bootstrap || r.Epoch.Unix() != 1704067200 {
		t.Fatalf("base %+v epoch %v", d.Base, r.Epoch)
	}
}

// edit returns the shipped definition with old replaced by new.
func edit(t *testing.T, old, new string) []byte {
	t.Helper()
	b, err := os.ReadFile(shipped(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("shipped definition lacks %q", old)
	}
	return []byte(strings.Replace(string(b), old, new, 1))
}

func TestBrokenDefinitionsNameTheKey(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown key", "extraPackages: []", "extraPackage: []", "line 22: unknown key at the top level"},
		{"nested unknown key", "  variant: vanilla", "  flavour: vanilla", "unknown key under xroad"},
		{"wrong type", "sourceDateEpoch: 1704067200", "sourceDateEpoch: soon", "key sourceDateEpoch: line"},
		{"password as a key", "extraPackages: []", "extraPackages: []\nS3cretHunter2: x", "unknown key at the top level"},
		{"list expected", "extraPackages: []", "extraPackages: S3cretHunter2", "key extraPackages: line"},
		{"second document", "extraPackages: []", "extraPackages: []\n---\nname: x", "second YAML document"},
		{"missing epoch", "sourceDateEpoch: 1704067200", "", "key sourceDateEpoch: missing"},
		{"unknown output", "- rootfs-tar", "- rootfs-zip", `key outputs[2]: unknown output "rootfs-zip"`},
		{"duplicate output", "- rootfs-tar", "- oci-layout", `key outputs[2]: "oci-layout" is listed twice`},
		{"registry without ref", "- rootfs-tar", "- registry", "key registry: missing"},
		{"bad unit", "  - systemd-networkd.service", "  - ../evil", "key units.enable[0]"},
		{"bad package", "extraPackages: []", "extraPackages: [\"-oops\"]", "key extraPackages[0]"},
		{"two bases", "  bootstrap: true", "  bootstrap: true\n  image: debian:12", "key base: give one of"},
		{"missing layout", "  bootstrap: true", "  ociLayout: /nonexistent/layout", "key base.ociLayout"},
		{"bad variant", "variant: vanilla", "variant: finnish", "key xroad.variant"},
		{"bad name", "name: xroad-securityserver", "name: Xroad Security", "key name"},
		{"negative disk size", "sizeMiB: 0", "sizeMiB: -1", "key disk.sizeMiB"},
		{"kernel argument with a blank", "kernelArgs: []", "kernelArgs: [\"console=ttyS0 quiet\"]", "key disk.kernelArgs[0]"},
		{"unknown disk key", "sizeMiB: 0", "sizeGiB: 8", "unknown key under disk"},
		{"relative removal", "  remove: []", "  remove: [etc/xroad/extra.key]", "key install.remove[0]"},
		{"removal glob in a directory", "  remove: []", "  remove: [/etc/xroad/ssl/x.key, /etc/*/x.key]", "key install.remove[1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("images/broken.yaml", edit(t, c.old, c.new))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), "images/broken.yaml: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q: want the file and %q", err, c.want)
			}
			if strings.Contains(err.Error(), "S3cret") {
				t.Fatalf("error quotes the definition: %v", err)
			}
		})
	}
}

// TestRemovalListExtendsTheProfiles: the definition's install.remove is
// added to the profile's, sorted and without duplicates.
func TestRemovalListExtendsTheProfiles(t *testing.T) {
	d, err := Parse("images/extra.yaml", edit(t, "  remove: []", "  remove: [/etc/xroad/extra.key, /etc/xroad/db.properties]"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.Remove, "/etc/xroad/extra.key") || !slices.Contains(r.Remove, "/etc/ssl/private/ssl-cert-snakeoil.key") ||
		!slices.IsSorted(r.Remove) || len(slices.Compact(slices.Clone(r.Remove))) != len(r.Remove) {
		t.Errorf("remove = %v", r.Remove)
	}
}

func TestResolveNamesTheKey(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown profile", "profile: ubuntu-24.04", "profile: debian-13", `key profile: unknown profile "debian-13"`},
		{"unknown postgresql", "profile: ubuntu-24.04", "profile: ubuntu-24.04\npostgresql: '9.6'", "key postgresql: profile ubuntu-24.04 offers no PostgreSQL"},
		{"unknown package set", "  - securityserver-secondary", "  - securityserver-tertiary", `key xroad.packageSets[1]: profile ubuntu-24.04 has no package set "securityserver-tertiary"`},
		{"unserved version", "version: 7.8.0", "version: 7.6.0", "key xroad.version: 7.6.0 is not served"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Parse("images/broken.yaml", edit(t, c.old, c.new))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Resolve(); err == nil || !strings.Contains(err.Error(), "images/broken.yaml: "+c.want) {
				t.Fatalf("error %v: want %q", err, c.want)
			}
		})
	}
}

func TestFlagsOverrideAndAreNamed(t *testing.T) {
	d, err := Load(shipped(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(Overrides{Profile: "rhel-9", Outputs: []string{"oci-layout"}, Push: "127.0.0.1:5000/x/y:1"}); err != nil {
		t.Fatal(err)
	}
	if d.Profile != "rhel-9" || !d.Wants(OutputRegistry) || d.Wants(OutputRootfsTar) || d.Registry != "127.0.0.1:5000/x/y:1" {
		t.Fatalf("overrides not applied: %+v", d)
	}
	if err := d.Apply(Overrides{Profile: "plan9"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Resolve(); err == nil || !strings.HasPrefix(err.Error(), "flag --profile (key profile): unknown profile") {
		t.Fatalf("error %v: want it to name --profile", err)
	}
	err = d.Apply(Overrides{Outputs: []string{"oci-layout", "floppy"}})
	if err == nil || !strings.Contains(err.Error(), "flag --output (key outputs[1])") {
		t.Fatalf("error %v: want it to name --output", err)
	}
}

func TestBaseFlag(t *testing.T) {
	for in, want := range map[string]Base{
		"bootstrap":                {Bootstrap: true},
		"image:debian:12":          {Image: "debian:12"},
		"oci-layout:/l@debian:12":  {OCILayout: "/l", OCILayoutRef: "debian:12"},
		"rootfs:/srv/rootfs":       {Rootfs: "/srv/rootfs"},
		"oci-layout:/only-a-dir/x": {OCILayout: "/only-a-dir/x"},
	} {
		got, err := parseBaseFlag(in)
		if err != nil || got != want {
			t.Errorf("parseBaseFlag(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "image:", "docker://x", "rootfs"} {
		if _, err := parseBaseFlag(bad); err == nil {
			t.Errorf("parseBaseFlag(%q) accepted", bad)
		}
	}
}

func TestRepositoryOverrideAllowsOtherVersions(t *testing.T) {
	dir := t.TempDir()
	keyring := filepath.Join(dir, "k.gpg")
	if err := os.WriteFile(keyring, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Parse("images/x.yaml", edit(t, "version: 7.8.0", "version: 7.6.0-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(Overrides{RepoDir: dir, RepoKeyring: keyring, Offline: true}); err != nil {
		t.Fatal(err)
	}
	r, err := d.Resolve()
	if err != nil || r.Version != "7.6.0-1" || !r.Repository.Offline {
		t.Fatalf("%+v %v", r, err)
	}
	if err := d.Apply(Overrides{RepoDir: dir}); err == nil || !strings.Contains(err.Error(), "repository.keyring") {
		t.Fatalf("repository without keyring: %v", err)
	}
}

func TestVariantSuffixesMetapackages(t *testing.T) {
	d, err := Parse("images/x.yaml", edit(t, "variant: vanilla", "variant: fi"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.XRoadPackages, ",") != "xroad-securityserver-fi" {
		t.Fatalf("X-Road packages %v", r.XRoadPackages)
	}
}

// TestCentralServerDefinitions resolves the central server's images: the
// central server on every Ubuntu profile and refused elsewhere with the
// profile's reason, its database on any profile.
func TestCentralServerDefinitions(t *testing.T) {
	images := filepath.Dir(shipped(t))
	cs, err := Load(filepath.Join(images, "centralserver.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, profile := range []string{"ubuntu-20.04", "ubuntu-22.04", "ubuntu-24.04"} {
		o := Overrides{Profile: profile, XRoadVersion: "7.8.0"}
		if profile == "ubuntu-20.04" {
			o.XRoadVersion = "7.5.1" // the last release built for focal
		}
		if err := cs.Apply(o); err != nil {
			t.Fatal(err)
		}
		r, err := cs.Resolve()
		if err != nil {
			t.Fatalf("%s: %v", profile, err)
		}
		if !strings.Contains(strings.Join(r.Packages, " "), "xroad-centralserver") {
			t.Errorf("%s: packages %v", profile, r.Packages)
		}
	}
	for _, profile := range []string{"debian-12", "rhel-9"} {
		if err := cs.Apply(Overrides{Profile: profile}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.Resolve(); err == nil || !strings.Contains(err.Error(), "central server packages for Ubuntu only") {
			t.Errorf("%s: %v", profile, err)
		}
	}
	db, err := Load(filepath.Join(images, "cs-database.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := db.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(r.Packages, " "), "xroad") || !strings.Contains(strings.Join(r.Packages, " "), "postgresql-16") {
		t.Errorf("cs-database packages: %v", r.Packages)
	}
	// RHEL 7's systemd cannot run the fence: no database image there.
	if err := db.Apply(Overrides{Profile: "rhel-7", XRoadVersion: "7.5.1", Outputs: []string{"rootfs-tar"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Resolve(); err == nil || !strings.Contains(err.Error(), "systemd 219") {
		t.Errorf("cs-database on rhel-7: %v", err)
	}
}

// TestDiskRefusedWithoutBootFacts: a profile that makes no disks refuses a
// disk output at resolve time, before any work, with its reason.
func TestDiskRefusedWithoutBootFacts(t *testing.T) {
	d, err := Load(shipped(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(Overrides{Profile: "rhel-9"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Resolve(); err == nil || !strings.Contains(err.Error(), "key outputs: profile rhel-9 makes no raw disk: RHEL boots shim and GRUB") {
		t.Fatalf("rhel-9 with disk outputs: %v", err)
	}
	if err := d.Apply(Overrides{Profile: "rhel-9", Outputs: []string{"rootfs-tar"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Resolve(); err != nil {
		t.Fatalf("rhel-9 without disks: %v", err)
	}
}

func TestCloudDiskOutputs(t *testing.T) {
	d, err := Load(filepath.Join("..", "..", "images", "securityserver.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(Overrides{Outputs: []string{"gce", "ova", "vhd"}}); err != nil {
		t.Fatal(err)
	}
	r, err := d.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.WantedDisks(); strings.Join(got, ",") != "vhd,gce,ova" {
		t.Errorf("wanted disks %v", got)
	}
	// The GCE target adds the kernel's modules-extra (gve), installed once
	// the kernel is; a disk without it installs the same packages as before.
	if want := []string{"linux-modules-extra-{version}"}; !slices.Equal(r.KernelPackages, want) {
		t.Errorf("kernel packages %v, want %v", r.KernelPackages, want)
	}
	if slices.ContainsFunc(r.Packages, func(p string) bool { return strings.Contains(p, "{version}") }) {
		t.Errorf("packages %v hold a name for the kernel", r.Packages)
	}
	withGCE := r.Packages
	if err := d.Apply(Overrides{Outputs: []string{"ova", "vhd"}}); err != nil {
		t.Fatal(err)
	}
	if r, err = d.Resolve(); err != nil {
		t.Fatal(err)
	}
	if len(r.KernelPackages) != 0 || !slices.Equal(r.Packages, withGCE) {
		t.Errorf("without gce: packages %v and %v, want %v and none", r.Packages, r.KernelPackages, withGCE)
	}
	if err := d.Apply(Overrides{Outputs: []string{"oci-layout", "vhdx"}}); err == nil || !strings.Contains(err.Error(), "outputs[1]") || !strings.Contains(err.Error(), `"vhdx"`) {
		t.Errorf("vhdx: %v", err)
	}
}
