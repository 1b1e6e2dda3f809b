package packages

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"xroad-appliance/profiles"
)

func spec(t *testing.T, profile string, repo *Repo) *Spec {
	t.Helper()
	f, err := profiles.Resolve(profile, "")
	if err != nil {
		t.Fatal(err)
	}
	return &Spec{
		Facts:         f,
		Packages:      []string{"postgresql13-server", "systemd", "xroad-securityserver"},
		XRoadPackages: []string{"xroad-securityserver"},
		Version:       "7.5.1",
		Repo:          repo,
	}
}

func TestAptSourceAndPin(t *testing.T) {
	s := spec(t, "debian-12", &Repo{URL: "https://artifactory.niis.org/xroad-release-deb", Suite: "jammy-7.5.1", Components: []string{"main"}})
	if got, want := (apt{}).sourceLine(s), "deb [signed-by=/usr/share/keyrings/xroad.gpg] https://artifactory.niis.org/xroad-release-deb jammy-7.5.1 main"; got != want {
		t.Errorf("source line %q, want %q", got, want)
	}
	for _, c := range []struct {
		pin       string
		match, no []string
	}{
		{"7.5.1", []string{"7.5.1-1", "7.5.1-2.ubuntu22.04"}, []string{"7.5.10-1", "7.5.2-1", "17.5.1-1"}},
		{"7.5.1-1", []string{"7.5.1-1", "7.5.1-1.ubuntu22.04"}, []string{"7.5.1-10", "7.5.1-2"}},
	} {
		pref := (apt{}).pin(c.pin)
		expr := regexp.MustCompile(`Pin: version /(.*)/`).FindStringSubmatch(pref)
		if expr == nil || !strings.Contains(pref, "Package: xroad-*\n") || !strings.Contains(pref, "Pin-Priority: 1001") {
			t.Fatalf("preferences for %s:\n%s", c.pin, pref)
		}
		re := regexp.MustCompile(expr[1])
		for _, v := range c.match {
			if !re.MatchString(v) {
				t.Errorf("pin %s does not take %s", c.pin, v)
			}
		}
		for _, v := range c.no {
			if re.MatchString(v) {
				t.Errorf("pin %s takes %s", c.pin, v)
			}
		}
	}
}

func TestAptOfflineReadsOnlyTheXRoadSource(t *testing.T) {
	s := spec(t, "debian-12", &Repo{URL: "file://" + RepoMountPoint, Suite: "stable", Components: []string{"main"}, Offline: true})
	got := strings.Join((apt{}).updateCommand(s), " ")
	for _, want := range []string{"Dir::Etc::sourcelist=sources.list.d/xroad.list", "Dir::Etc::sourceparts=-", "update --error-on=any"} {
		if !strings.Contains(got, want) {
			t.Errorf("update command %q lacks %q", got, want)
		}
	}
	s.Repo.Offline = false
	if got := strings.Join((apt{}).installCommand(s, s.Packages), " "); strings.Contains(got, "sourcelist") || !strings.HasSuffix(got, "install -y --no-install-recommends postgresql13-server systemd xroad-securityserver") {
		t.Errorf("online install command %q", got)
	}
}

func TestDnfCommands(t *testing.T) {
	s := spec(t, "rhel-9", &Repo{URL: "https://artifactory.niis.org/xroad-release-rpm", Suite: "rhel/9/7.5.1"})
	d := dnf{tool: "dnf"}
	repo := d.repoFile(s, d.baseURL(s, ""), s.Facts.XRoad.Repository.Keyring)
	for _, want := range []string{"[xroad]\n", "baseurl=https://artifactory.niis.org/xroad-release-rpm/rhel/9/7.5.1\n",
		"gpgcheck=1\n", "repo_gpgcheck=1\n", "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-xroad\n"} {
		if !strings.Contains(repo, want) {
			t.Errorf(".repo file lacks %q:\n%s", want, repo)
		}
	}
	install := d.installCommand(s, "/m", "/cache/dnf", "/tmp/repos")
	for _, want := range []string{"--installroot=/m", "--releasever=9", "--setopt=gpgcheck=1", "--setopt=cachedir=/cache/dnf",
		"--setopt=reposdir=/etc/yum.repos.d,/m/etc/yum.repos.d,/tmp/repos", "install", "xroad-securityserver-7.5.1-*", "systemd"} {
		if !slices.Contains(install, want) {
			t.Errorf("install command %q lacks %q", install, want)
		}
	}
	if enable := strings.Join(d.enableCommand(s, "/m", "/c", "/r"), " "); !strings.HasPrefix(enable, "dnf -y --installroot=/m") ||
		!strings.HasSuffix(enable, "install https://download.postgresql.org/pub/repos/yum/reporpms/EL-9-x86_64/pgdg-redhat-repo-latest.noarch.rpm") {
		t.Errorf("enable command %q", enable)
	}
	rhel8, err := profiles.Resolve("rhel-8", "13")
	if err != nil {
		t.Fatal(err)
	}
	s8 := &Spec{Facts: rhel8, Repo: &Repo{Offline: true, Dir: "/srv/repo", Override: true}, Version: "7.5.1-1"}
	enable := d.enableCommand(s8, "/m", "/c", "/r")
	if got := strings.Join(enable, " "); !strings.HasSuffix(got, "--disablerepo=* --enablerepo=xroad module enable postgresql:13") || strings.Count(got, "-y") != 1 {
		t.Errorf("rhel-8 enable command %q", got)
	}
	if got := d.baseURL(s8, "/srv/repo"); got != "file:///srv/repo" {
		t.Errorf("local base URL %q", got)
	}
	if got := strings.Join(d.manifestCommand("/m"), " "); got != "rpm --root=/m -qa --qf %{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\n" {
		t.Errorf("manifest command %q", got)
	}
}

func TestClassifyApt(t *testing.T) {
	repo := &Repo{URL: "file:///run/xroad-image/repo", Suite: "stable", Components: []string{"main"}}
	for _, c := range []struct{ output, reason string }{
		{"E: The repository 'file:/run/xroad-image/repo stable InRelease' is not signed.", "not signed"},
		{"W: GPG error: file:/run stable InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 0123\nE: The repository is not signed.", "does not verify"},
		{"Err:1 http://127.0.0.1:9/xroad stable InRelease\n  Could not connect to 127.0.0.1:9\nE: Failed to fetch", "unreachable"},
	} {
		err := classifyApt(repo, c.output, errors.New("exit status 100"))
		var re *RepositoryError
		if !errors.As(err, &re) || !strings.Contains(re.Reason, c.reason) || !strings.Contains(err.Error(), repo.Describe()) {
			t.Errorf("%q: %v", c.output, err)
		}
	}
}

func TestManifestText(t *testing.T) {
	got := ManifestText([]Package{{"a", "1.0", "all"}, {"b", "2:3-4", "amd64"}})
	if got != "a 1.0 all\nb 2:3-4 amd64\n" {
		t.Errorf("%q", got)
	}
}

// TestInstallEnvironmentAndPreseed: every profile installs with
// XROAD_IGNORE_DATABASE_SETUP; apt profiles also non-interactively, with the
// admin user question answered empty.
func TestInstallEnvironmentAndPreseed(t *testing.T) {
	for _, name := range profiles.Names() {
		s := spec(t, name, &Repo{})
		env := installEnv(s.Facts)
		if !slices.Contains(env, "XROAD_IGNORE_DATABASE_SETUP=1") || !slices.IsSorted(env) {
			t.Errorf("%s: install environment %v", name, env)
		}
		sel := (apt{}).selections(s)
		if s.Facts.PackageManager != "apt" {
			if sel != "" {
				t.Errorf("%s: debconf answers without debconf: %q", name, sel)
			}
			continue
		}
		if !slices.Contains(env, "DEBIAN_FRONTEND=noninteractive") {
			t.Errorf("%s: install environment %v", name, env)
		}
		if sel != "xroad-proxy xroad-common/username string \n" {
			t.Errorf("%s: debconf answers %q", name, sel)
		}
	}
}

// TestRemovalListIsInTheKey: another removal list makes another layer.
func TestRemovalListIsInTheKey(t *testing.T) {
	s := spec(t, "debian-12", &Repo{URL: "https://artifactory.niis.org/xroad-release-deb", Suite: "jammy-7.5.1"})
	a, errA := s.Key()
	s.Remove = []string{"/etc/xroad/extra.key"}
	b, errB := s.Key()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a == b {
		t.Error("the removal list is not part of the package layer's key")
	}
}

// TestKernelPackagesAreInTheKey: a layer with the GCE target's packages is
// another layer; one without any keeps its key.
func TestKernelPackagesAreInTheKey(t *testing.T) {
	s := spec(t, "ubuntu-24.04", &Repo{URL: "https://artifactory.niis.org/xroad-release-deb", Suite: "noble-7.8.0"})
	a, errA := s.Key()
	s.KernelPackages = []string{}
	b, errB := s.Key()
	s.KernelPackages = []string{"linux-modules-extra-{version}"}
	c, errC := s.Key()
	if errA != nil || errB != nil || errC != nil {
		t.Fatal(errA, errB, errC)
	}
	if a != b || a == c {
		t.Errorf("keys without, with none and with kernel packages: %s %s %s", a, b, c)
	}
}

// TestKernelPackagesAreNamedForTheNewestKernel: {version} becomes the
// version of the kernel a disk boots (the newest disk.kernel matches); with
// no kernel installed the build fails naming the packages.
func TestKernelPackagesAreNamedForTheNewestKernel(t *testing.T) {
	s := spec(t, "ubuntu-24.04", &Repo{URL: "https://artifactory.niis.org/xroad-release-deb", Suite: "noble-7.8.0"})
	s.KernelPackages = []string{"linux-modules-extra-{version}"}
	root := t.TempDir()
	_, err := kernelPackages(root, s)
	if err == nil || !strings.Contains(err.Error(), "install linux-modules-extra-{version}: no kernel /boot/vmlinuz-{version}") {
		t.Errorf("without a kernel: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(root, "boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"6.8.0-60-generic", "6.8.0-151-generic"} {
		if err := os.WriteFile(filepath.Join(root, "boot", "vmlinuz-"+v), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	added, err := kernelPackages(root, s)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"linux-modules-extra-6.8.0-151-generic"}; !slices.Equal(added, want) {
		t.Errorf("added %v, want %v", added, want)
	}
	if got := strings.Join((apt{}).installCommand(s, added), " "); !strings.HasSuffix(got, "install -y --no-install-recommends linux-modules-extra-6.8.0-151-generic") {
		t.Errorf("install command %q", got)
	}
}
