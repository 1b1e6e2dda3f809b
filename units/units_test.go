package units

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"xroad-appliance/profiles"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// eachProfileVersion calls fn for every profile and every PostgreSQL version it offers.
func eachProfileVersion(t *testing.T, fn func(t *testing.T, name string, f *profiles.Facts)) {
	all, err := profiles.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		for _, v := range p.VersionNames() {
			f, err := p.Resolve(v)
			if err != nil {
				t.Fatal(err)
			}
			name := p.Name + "-pg" + v
			t.Run(name, func(t *testing.T) { fn(t, name, f) })
		}
	}
}

func TestGolden(t *testing.T) {
	eachProfileVersion(t, func(t *testing.T, name string, f *profiles.Facts) {
		files, err := Bake(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join("testdata", "golden", name)
		if *update {
			os.RemoveAll(dir)
			if err := WriteTree(dir, files); err != nil {
				t.Fatal(err)
			}
			return
		}
		var want []string
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				want = append(want, strings.TrimPrefix(p, dir))
			}
			return nil
		})
		if len(want) != len(files) {
			t.Errorf("golden has %d files, rendered %d (run go test ./units -update)", len(want), len(files))
		}
		for _, file := range files {
			golden, err := os.ReadFile(filepath.Join(dir, file.Path))
			if err != nil {
				t.Errorf("%s: no golden file (run go test ./units -update)", file.Path)
				continue
			}
			if !bytes.Equal(golden, file.Content) {
				t.Errorf("%s differs from golden:\n--- golden\n%s\n--- rendered\n%s", file.Path, golden, file.Content)
			}
		}
	})
}

// The guide's sync unit must be complete on every profile (the reference
// automation ships none on Ubuntu 24.04).
func TestSyncUnitOnEveryProfile(t *testing.T) {
	eachProfileVersion(t, func(t *testing.T, _ string, f *profiles.Facts) {
		files, err := Bake(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc := parse(t, fileAt(t, files, SyncServicePath))
		exec := value(t, svc, "Service", "ExecStart")
		for _, want := range []string{`--exclude db.properties`, `--exclude "/conf.d/node.ini"`, `--exclude "*.tmp"`,
			`--exclude "/postgresql"`, `--exclude "/globalconf"`, `--exclude "/gpghome"`, `--delay-updates`,
			`--delete-delay`, `--timeout=10`, `ConnectTimeout=5`, `--log-file=/var/log/xroad/slave-sync.log`,
			`${XROAD_USER}@${MASTER}:/etc/xroad/ /etc/xroad/`} {
			if !strings.Contains(exec, want) {
				t.Errorf("ExecStart lacks %s: %s", want, exec)
			}
		}
		if got := value(t, svc, "Service", "ExecStartPre"); got != "/usr/bin/test ! -f /var/tmp/xroad/sync-disabled" {
			t.Errorf("ExecStartPre = %q", got)
		}
		for name, want := range map[string]string{"User": "xroad", "Group": "xroad", "Type": "oneshot"} {
			if got := value(t, svc, "Service", name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		before := values(svc, "Unit", "Before")
		for _, s := range []string{"xroad-proxy.service", "xroad-signer.service", "xroad-confclient.service", "xroad-proxy-ui-api.service"} {
			if !contains(before, s) {
				t.Errorf("sync is not Before=%s", s)
			}
		}
		timer := parse(t, fileAt(t, files, SyncTimerPath))
		if value(t, timer, "Timer", "OnBootSec") != "60" || value(t, timer, "Timer", "OnUnitActiveSec") != "60" {
			t.Error("timer must fire 60 s after boot and every 60 s")
		}
		if !bytes.Contains(fileAt(t, files, LogrotatePath), []byte("su xroad xroad")) {
			t.Error("logrotate file lacks su xroad xroad")
		}
	})
}

func TestProvisionUnitHasNoCycleProneOrdering(t *testing.T) {
	f, err := profiles.Resolve("ubuntu-24.04", "")
	if err != nil {
		t.Fatal(err)
	}
	opts := ProvisionService(f, []string{"xroad-proxy"})
	after := strings.Join(values(opts, "Unit", "After"), " ")
	for _, bad := range []string{"cloud-final.service", "cloud-init.target"} {
		if strings.Contains(after, bad) {
			t.Errorf("After=%s with WantedBy=multi-user.target is an ordering cycle", bad)
		}
	}
	if !strings.Contains(strings.Join(values(opts, "Unit", "Before"), " "), "xroad-proxy.service") {
		t.Error("provisioning must run before the X-Road services")
	}
}

func TestSyncPrimaryRejectsInjection(t *testing.T) {
	for _, bad := range []string{"", "10.0.0.1\nExecStartPre=/bin/sh", "host name", "a;b", `"x"`, "$(id)", "x\\y",
		"fe80::1%eth0", "fd00::1", "127.0.0.1", "-oProxyCommand=x", "a..b", strings.Repeat("a", 64) + ".example", "host\r", "ünicode"} {
		if _, err := SyncPrimary(bad); err == nil {
			t.Errorf("SyncPrimary(%q) accepted", bad)
		}
	}
	for _, good := range []string{"10.0.0.1", "primary.cluster.example", "ss-1"} {
		f, err := SyncPrimary(good)
		if err != nil {
			t.Errorf("SyncPrimary(%q): %v", good, err)
			continue
		}
		if got := value(t, parse(t, f.Content), "Service", "Environment"); got != "MASTER="+good {
			t.Errorf("drop-in Environment = %q", got)
		}
	}
}

func TestCopyUnitOverridesPackagedEnvironment(t *testing.T) {
	f, err := profiles.Resolve("rhel-9", "")
	if err != nil {
		t.Fatal(err)
	}
	packaged := []byte("[Service]\nEnvironment=PGDATA=/var/lib/pgsql/13/data/\nExecStart=/usr/pgsql-13/bin/postmaster -D ${PGDATA}\n")
	sc, err := ServerconfUnit(f.PG, packaged)
	if err != nil {
		t.Fatal(err)
	}
	env := values(parse(t, sc.Content), "Service", "Environment")
	if strings.Join(env, ",") != "PGPORT=5433,PGDATA=/var/lib/pgsql/13/serverconf" {
		t.Errorf("Environment = %v", env)
	}
}

func parse(t *testing.T, content []byte) []*unit.UnitOption {
	t.Helper()
	opts, err := unit.DeserializeOptions(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

func fileAt(t *testing.T, files []File, path string) []byte {
	t.Helper()
	for _, f := range files {
		if f.Path == path {
			return f.Content
		}
	}
	t.Fatalf("no file %s rendered", path)
	return nil
}

func values(opts []*unit.UnitOption, section, name string) []string {
	var out []string
	for _, o := range opts {
		if o.Section == section && o.Name == name {
			out = append(out, o.Value)
		}
	}
	return out
}

func value(t *testing.T, opts []*unit.UnitOption, section, name string) string {
	t.Helper()
	vs := values(opts, section, name)
	if len(vs) != 1 {
		t.Fatalf("[%s] %s appears %d times", section, name, len(vs))
	}
	return vs[0]
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestSSLCertUnit: apt profiles bake a preset-enabled unit making the
// snakeoil pair while either file is missing, before PostgreSQL's instances
// and the provisioner; RHEL profiles bake none.
func TestSSLCertUnit(t *testing.T) {
	eachProfileVersion(t, func(t *testing.T, name string, f *profiles.Facts) {
		u := SSLCertUnit(f)
		preset := string(Preset(f))
		if f.FirstBoot.SelfSignedCertificate == nil {
			if u != nil || strings.Contains(preset, "xroad-ssl-cert") {
				t.Fatal("a unit without the fact")
			}
			return
		}
		if u == nil || !strings.Contains(preset, "enable xroad-ssl-cert.service\n") {
			t.Fatalf("unit %v, preset %q", u, preset)
		}
		opts, err := unit.DeserializeOptions(bytes.NewReader(u.Content))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, o := range opts {
			got[o.Section+"."+o.Name] = append(got[o.Section+"."+o.Name], o.Value)
		}
		before := strings.Join(got["Unit.Before"], " ")
		for _, want := range []string{"postgresql.service", f.PG.Default.Unit + ".service", f.PG.Serverconf.Unit + ".service"} {
			if !strings.Contains(" "+before+" ", " "+want+" ") {
				t.Errorf("Before=%s lacks %s", before, want)
			}
		}
		// The provisioner does not wait for the pair: it waits only for
		// the default instance's start, which does.
		if strings.Contains(" "+before+" ", " xroad-provision.service ") {
			t.Errorf("Before=%s: the provisioner would wait for the pair", before)
		}
		cond := strings.Join(got["Unit.ConditionPathExists"], " ")
		if cond != "|!/etc/ssl/private/ssl-cert-snakeoil.key |!/etc/ssl/certs/ssl-cert-snakeoil.pem" {
			t.Errorf("ConditionPathExists %s", cond)
		}
		if exec := strings.Join(got["Service.ExecStart"], ""); exec != "/usr/sbin/make-ssl-cert generate-default-snakeoil --force-overwrite" {
			t.Errorf("ExecStart=%s", exec)
		}
	})
}

// Each profile's systemd gets the restart form it reads: Restart= on the
// oneshot provisioner from 244 on, OnFailure= and a retry unit before; [Unit]
// start limits from 230 on, [Service] ones before.
func TestRestartFormsFollowTheProfilesSystemd(t *testing.T) {
	for _, c := range []struct {
		profile, section, restart, onFailure string
	}{
		{"ubuntu-24.04", "Unit", "on-failure", ""},
		{"rhel-8", "Unit", "", ProvisionRetryUnit},
		{"rhel-7", "Service", "", ProvisionRetryUnit},
	} {
		f, err := profiles.Resolve(c.profile, "")
		if err != nil {
			t.Fatal(err)
		}
		files, err := Bake(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		prov := parse(t, fileAt(t, files, ProvisionUnitPath))
		if got := strings.Join(values(prov, "Service", "Restart"), ""); got != c.restart {
			t.Errorf("%s: provisioner Restart=%q, want %q", c.profile, got, c.restart)
		}
		if got := strings.Join(values(prov, "Unit", "OnFailure"), ""); got != c.onFailure {
			t.Errorf("%s: provisioner OnFailure=%q, want %q", c.profile, got, c.onFailure)
		}
		if len(values(prov, c.section, "StartLimitBurst")) != 1 {
			t.Errorf("%s: no StartLimitBurst in [%s]", c.profile, c.section)
		}
		if c.onFailure != "" {
			fileAt(t, files, ProvisionRetryUnitPath)
		}
		for _, u := range []string{f.PG.Serverconf.Unit, f.PG.Default.Unit, "xroad-proxy"} {
			d := parse(t, fileAt(t, files, "/etc/systemd/system/"+serviceName(u)+".d/xroad-restart.conf"))
			if value(t, d, "Service", "Restart") != "on-failure" || len(values(d, c.section, "StartLimitBurst")) != 1 {
				t.Errorf("%s: %s restart drop-in %v", c.profile, u, d)
			}
		}
	}
}
