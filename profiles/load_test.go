package profiles

import (
	"slices"
	"strings"
	"testing"
)

func TestAllProfilesLoad(t *testing.T) {
	want := []string{"debian-12", "rhel-7", "rhel-8", "rhel-9", "ubuntu-20.04", "ubuntu-22.04", "ubuntu-24.04"}
	if got := strings.Join(Names(), ","); got != strings.Join(want, ",") {
		t.Fatalf("profiles = %s, want %s", got, strings.Join(want, ","))
	}
	for _, n := range want {
		p, err := Load(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range p.VersionNames() {
			if _, err := p.Resolve(v); err != nil {
				t.Error(err)
			}
		}
	}
}

// The facts the issue and the guide name, per profile and version.
func TestVersionFacts(t *testing.T) {
	cases := []struct {
		profile, pg, retention, standby, walLevel, replayPause, method, sshKey string
	}{
		{"debian-12", "", "wal_keep_size", "standby.signal", "replica", "pg_wal_replay_pause", "pg_createcluster", "ed25519"},
		{"ubuntu-20.04", "", "wal_keep_segments", "standby.signal", "replica", "pg_wal_replay_pause", "pg_createcluster", "ed25519"},
		{"ubuntu-22.04", "", "wal_keep_size", "standby.signal", "replica", "pg_wal_replay_pause", "pg_createcluster", "ed25519"},
		{"ubuntu-24.04", "", "wal_keep_size", "standby.signal", "replica", "pg_wal_replay_pause", "pg_createcluster", "ed25519"},
		{"rhel-7", "9.2", "wal_keep_segments", "recovery.conf", "hot_standby", "pg_xlog_replay_pause", "include-unit", "ed25519"},
		{"rhel-7", "12", "wal_keep_segments", "standby.signal", "replica", "pg_wal_replay_pause", "include-unit", "ed25519"},
		{"rhel-8", "10", "wal_keep_segments", "recovery.conf", "replica", "pg_wal_replay_pause", "include-unit", "ecdsa"},
		{"rhel-8", "12", "wal_keep_segments", "standby.signal", "replica", "pg_wal_replay_pause", "include-unit", "ecdsa"},
		{"rhel-8", "13", "wal_keep_size", "standby.signal", "replica", "pg_wal_replay_pause", "copy-unit", "ecdsa"},
		{"rhel-9", "", "wal_keep_size", "standby.signal", "replica", "pg_wal_replay_pause", "copy-unit", "ecdsa"},
	}
	for _, c := range cases {
		f, err := Resolve(c.profile, c.pg)
		if err != nil {
			t.Fatal(err)
		}
		got := []string{f.PG.WalRetentionKey, string(f.PG.Standby.Method), f.PG.WalLevel, f.PG.Functions.ReplayPause, string(f.PG.Serverconf.Method), f.SSH.KeyType}
		want := []string{c.retention, c.standby, c.walLevel, c.replayPause, c.method, c.sshKey}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s pg%s: got %v, want %v", c.profile, c.pg, got, want)
		}
	}
	f, _ := Resolve("rhel-9", "")
	if !strings.Contains(strings.Join(f.PG.Serverconf.CreateCommand, " "), "--auth-host=scram-sha-256") {
		t.Error("rhel-9 initdb must use scram-sha-256 (guide 4.2.1.3)")
	}
	f, _ = Resolve("rhel-8", "")
	if f.SSH.KeyBits != 256 {
		t.Error("rhel-8 needs ECDSA nistp256 for FIPS")
	}
}

func TestBrokenProfilesNameTheKey(t *testing.T) {
	good, err := embedded.ReadFile("debian-12.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(good)
	cases := []struct {
		name, doc, wantKey string
	}{
		{"unknown top-level key", src + "colour: blue\n", "colour"},
		{"unknown nested key", strings.Replace(src, "  keyType: ed25519", "  keyType: ed25519\n  keyColour: red", 1), "keyColour"},
		{"missing fact", strings.Replace(src, "    walLevel: replica\n", "", 1), "postgresqlVersions.15.walLevel"},
		{"missing nested fact", strings.Replace(src, "      dataDir: /var/lib/postgresql/15/serverconf\n", "", 1), "postgresqlVersions.15.serverconf.dataDir"},
		{"wrong type", strings.Replace(src, "      port: 5433", "      port: five", 1), "postgresqlVersions.15.serverconf.port: line"},
		{"wrong type list", strings.Replace(src, "packageManager: apt", "packageManager: [apt]", 1), "packageManager"},
		{"bad enum", strings.Replace(src, "    walRetentionKey: wal_keep_size", "    walRetentionKey: wal_keep_bytes", 1), "walRetentionKey"},
		{"wal_keep_size below 13", strings.Replace(src, "  major: 15", "  major: 12", 1), "walRetentionKey"},
		{"default not offered", strings.Replace(src, "  default: '15'", "  default: '16'", 1), "postgresql.default"},
		{"name mismatch", strings.Replace(src, "name: debian-12", "name: debian-13", 1), "name"},
		{"promote as root", strings.Replace(src, "      promoteAs: postgres", "      promoteAs: root", 1), "postgresqlVersions.15.standby.promoteAs: pg_ctl cannot be run as root"},
		{"keyring not pinned", strings.Replace(src, "    fingerprints:\n", "    fingerprints: []\n    old:\n", 1), "bootstrap.keyring"},
		{"debootstrap without script", strings.Replace(src, "  script: bookworm\n", "", 1), "bootstrap.script"},
		{"disk without kernel", strings.Replace(src, "  kernel: /boot/vmlinuz-{version}\n", "", 1), "disk.kernel"},
		{"no database setup switch", strings.Replace(src, "    XROAD_IGNORE_DATABASE_SETUP: '1'\n", "", 1), "install.env.XROAD_IGNORE_DATABASE_SETUP"},
		{"bad env name", strings.Replace(src, "    DEBIAN_FRONTEND:", "    DEBIAN-FRONTEND:", 1), "install.env.DEBIAN-FRONTEND"},
		{"debconf password", strings.Replace(src, "    type: string\n    value: ''", "    type: password\n    value: ''", 1), "install.debconf[0].type: an image holds no password"},
		{"debconf without apt", strings.Replace(src, "packageManager: apt", "packageManager: dnf", 1), "install.debconf: packageManager dnf has no debconf"},
		{"relative removal", strings.Replace(src, "  - /etc/xroad/db.properties", "  - etc/xroad/db.properties", 1), "install.remove[0]"},
		{"bad glob", strings.Replace(src, "  - /etc/xroad/ssl/*.crt", "  - /etc/xroad/ssl/[.crt", 1), "install.remove[2]"},
		{"glob in a directory", strings.Replace(src, "  - /etc/xroad/ssl/*.crt", "  - /etc/*/ssl/x.crt", 1), "install.remove[2]"},
		{"removal under /proc", strings.Replace(src, "  - /etc/xroad/ssl/*.crt", "  - /proc/1/environ", 1), "install.remove[2]"},
		{"emptied and removed", strings.Replace(src, "  - /var/lib/dbus/machine-id", "  - /etc/machine-*", 1), "install.empty[0]"},
		{"regenerated but kept", strings.Replace(src, "  - /etc/ssl/private/ssl-cert-snakeoil.key\n  - /etc/ssl/certs", "  - /etc/ssl/certs", 1), "firstBoot.selfSignedCertificate.files[0]: /etc/ssl/private/ssl-cert-snakeoil.key is not in install.remove"},
		{"relative certificate command", strings.Replace(src, "    - /usr/sbin/make-ssl-cert", "    - make-ssl-cert", 1), "firstBoot.selfSignedCertificate.command"},
		{"target without datasources", strings.Replace(src, "      datasources: [NoCloud, GCE]\n", "", 1), "disk.targets.gce.datasources"},
		{"target lists None", strings.Replace(src, "[NoCloud, GCE]", "[NoCloud, GCE, None]", 1), "disk.targets.gce.datasources"},
		{"kernel argument with a blank", strings.Replace(src, "earlyprintk=ttyS0", "'earlyprintk=ttyS0 quiet'", 1), "disk.targets.vhd.kernelArgs[2]"},
		{"no targets", strings.Replace(src, "  targets:\n", "  nontargets:\n", 1), "nontargets"},
		{"target package with a blank", strings.Replace(src, "      datasources: [NoCloud, GCE]\n", "      datasources: [NoCloud, GCE]\n      packages: ['linux-modules-extra {version}']\n", 1), "disk.targets.gce.packages[0]"},
		{"target package with another placeholder", strings.Replace(src, "      datasources: [NoCloud, GCE]\n", "      datasources: [NoCloud, GCE]\n      packages: ['linux-modules-{flavour}']\n", 1), "disk.targets.gce.packages[0]"},
		{"empty", "", "empty document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.doc == src {
				t.Fatal("test case did not change the document")
			}
			_, err := Parse("debian-12.yaml", []byte(c.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "debian-12.yaml") || !strings.Contains(err.Error(), c.wantKey) {
				t.Errorf("error %q does not name the file and %q", err, c.wantKey)
			}
		})
	}
}

func TestUnknownProfile(t *testing.T) {
	_, err := Resolve("windows-11", "")
	if err == nil || !strings.Contains(err.Error(), "windows-11") {
		t.Fatalf("err = %v", err)
	}
	_, err = Resolve("rhel-8", "11")
	if err == nil || !strings.Contains(err.Error(), "10, 12, 13") {
		t.Fatalf("err = %v", err)
	}
}

// TestPromoteRunsAsPostgres: every profile and version promotes as the
// PostgreSQL OS user, never root, which pg_ctl refuses (rhel-8 with
// PostgreSQL 10 creates its instance as root).
func TestPromoteRunsAsPostgres(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		for _, v := range p.VersionNames() {
			if as := p.Versions[v].Standby.PromoteAs; as != "postgres" {
				t.Errorf("%s PostgreSQL %s promotes as %q", p.Name, v, as)
			}
		}
	}
}

// TestInstallFacts: every profile installs without the packages' database
// setup and removes the X-Road keys and passwords; debconf answers only
// where there is debconf, and the admin user is never preseeded.
func TestInstallFacts(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if p.Install.Env[IgnoreDatabaseSetup] != "1" {
			t.Errorf("%s: install.env lacks %s=1", p.Name, IgnoreDatabaseSetup)
		}
		for _, want := range []string{"/etc/xroad/db.properties", "/etc/xroad.properties", "/etc/xroad/ssl/internal.key",
			"/etc/xroad/ssl/proxy-ui-api.p12", "/etc/xroad/ssl/center-admin-service.crt", "/etc/ssh/ssh_host_ed25519_key", "/var/lib/dbus/machine-id"} {
			if !Removed(p.Install.Remove, want) {
				t.Errorf("%s: install.remove keeps %s", p.Name, want)
			}
		}
		if Removed(p.Install.Remove, "/etc/machine-id") || !slices.Contains(p.Install.Empty, "/etc/machine-id") {
			t.Errorf("%s: /etc/machine-id must be emptied, not removed", p.Name)
		}
		apt := p.PackageManager == "apt"
		if apt != (len(p.Install.Debconf) > 0) || apt != (p.FirstBoot.SelfSignedCertificate != nil) {
			t.Errorf("%s: debconf answers and the snakeoil pair belong to the apt family", p.Name)
		}
		for _, a := range p.Install.Debconf {
			if a.Question == "xroad-common/username" && a.Value != "" {
				t.Errorf("%s: the admin user %q is preseeded", p.Name, a.Value)
			}
		}
	}
}

// TestRHEL7HasNoLangpacks: langpacks arrived with RHEL 8; on RHEL 7
// glibc-common carries the en_US.UTF-8 locale initdb is given.
func TestRHEL7HasNoLangpacks(t *testing.T) {
	f, err := Resolve("rhel-7", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Bootstrap.Include {
		if strings.HasPrefix(p, "glibc-langpack-") {
			t.Errorf("rhel-7 installs %s, which RHEL 7 does not have", p)
		}
	}
	if !slices.Contains(f.Bootstrap.Include, "glibc-common") {
		t.Error("rhel-7 does not install glibc-common, its locales")
	}
}

func TestGuestForMergesTargets(t *testing.T) {
	f, err := Resolve("ubuntu-24.04", "")
	if err != nil {
		t.Fatal(err)
	}
	g := f.Disk.GuestFor([]string{"raw", "vhd", "unknown"})
	if want := []string{"NoCloud", "Ec2", "Azure"}; !slices.Equal(g.Datasources, want) {
		t.Errorf("datasources %v, want %v", g.Datasources, want)
	}
	if want := []string{"console=tty0", "console=ttyS0,115200n8", "nvme_core.io_timeout=4294967295", "earlyprintk=ttyS0", "rootdelay=300"}; !slices.Equal(g.KernelArgs, want) {
		t.Errorf("kernel arguments %v, want %v", g.KernelArgs, want)
	}
	if want := []string{"ena", "nvme", "hv_vmbus", "hv_storvsc", "hv_netvsc"}; !slices.Equal(g.Drivers, want) {
		t.Errorf("drivers %v, want %v", g.Drivers, want)
	}
	if len(g.Packages) != 0 {
		t.Errorf("packages %v, want none: raw and vhd need nothing beyond the kernel", g.Packages)
	}
	g = f.Disk.GuestFor([]string{"qcow2", "gce", "raw"})
	if want := []string{"linux-modules-extra-{version}"}; !slices.Equal(g.Packages, want) {
		t.Errorf("packages %v, want %v", g.Packages, want)
	}
	d := Disk{Targets: map[string]Guest{"a": {Packages: []string{"x-{version}"}}, "b": {Packages: []string{"y", "x-{version}"}}}}
	if g := d.GuestFor([]string{"b", "a"}); !slices.Equal(g.Packages, []string{"y", "x-{version}"}) {
		t.Errorf("merged packages %v, want [y x-{version}]", g.Packages)
	}
	for _, name := range []string{"debian-12", "ubuntu-22.04", "ubuntu-24.04", "ubuntu-20.04"} {
		f, err := Resolve(name, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range []string{"raw", "qcow2", "vmdk", "vhd", "gce", "ova"} {
			g := f.Disk.Targets[target]
			if !slices.Contains(g.KernelArgs, "console=ttyS0,115200n8") || g.Datasources[0] != "NoCloud" {
				t.Errorf("%s %s: no serial console or NoCloud first: %+v", name, target, g)
			}
		}
	}
}

// 9.2 writes password_encryption as the boolean it is there and names the
// features it lacks; a feature the code does not know is refused.
func TestPostgreSQL92Facts(t *testing.T) {
	f, err := Resolve("rhel-7", "9.2")
	if err != nil {
		t.Fatal(err)
	}
	if v := f.PG.PasswordEncryptionValue(); v != "on" {
		t.Errorf("9.2 password_encryption = %q, want on", v)
	}
	for _, feature := range Features {
		if f.PG.Lacks[feature] == "" {
			t.Errorf("9.2 lacks %s, but the profile does not say so", feature)
		}
	}
	for _, name := range Names() {
		p, _ := Load(name)
		for _, v := range p.VersionNames() {
			if f, _ := p.Resolve(v); f.PG.Major >= 10 && len(f.PG.Lacks) > 0 {
				t.Errorf("%s pg%s lacks %v", name, v, f.PG.Lacks)
			}
		}
	}
	pg := PostgreSQL{Major: 9, PasswordEncryption: "md5", Standby: Standby{Method: "recovery.conf", TriggerFile: "/t", PromoteAs: "postgres"},
		WalLevel: "hot_standby", WalRetentionKey: "wal_keep_segments", WalRetentionValue: "8", WalRetentionPerSecondary: "2", Serverconf: Serverconf{Method: "pg_createcluster", Instance: Instance{}, AuthHost: "md5"}}
	if err := pg.validate("v"); err == nil || !strings.Contains(err.Error(), "passwordEncryptionSetting") {
		t.Errorf("9.x with password_encryption 'md5': %v", err)
	}
	pg.PasswordEncryptionSetting = "on"
	pg.Lacks = map[string]string{"replicationSlots": "9.4"}
	if err := pg.validate("v"); err == nil || !strings.Contains(err.Error(), "unknown feature") {
		t.Errorf("unknown feature: %v", err)
	}
}

// TestGCETargetsCarryGVNIC: every GCE disk carries gve (gVNIC, the NIC of
// C3 and newer machine types). Debian's kernel package ships it; Ubuntu's
// linux-image-virtual does not, so its GCE targets add the kernel's
// modules-extra, and no other target adds anything.
func TestGCETargetsCarryGVNIC(t *testing.T) {
	extra := map[string][]string{
		"debian-12":    nil,
		"ubuntu-22.04": {"linux-modules-extra-{version}"},
		"ubuntu-24.04": {"linux-modules-extra-{version}"},
	}
	for name, want := range extra {
		f, err := Resolve(name, "")
		if err != nil {
			t.Fatal(err)
		}
		gce := f.Disk.Targets["gce"]
		if !slices.Contains(gce.Drivers, "gve") {
			t.Errorf("%s: the GCE target's drivers %v lack gve", name, gce.Drivers)
		}
		if !slices.Equal(gce.Packages, want) {
			t.Errorf("%s: the GCE target adds %v, want %v", name, gce.Packages, want)
		}
		for target, g := range f.Disk.Targets {
			if target != "gce" && len(g.Packages) > 0 {
				t.Errorf("%s: target %s adds %v", name, target, g.Packages)
			}
		}
	}
}
