package profiles

import (
	"embed"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"xroad-appliance/provisioner/inputfile"
)

//go:embed *.yaml
var embedded embed.FS

// Facts is a profile resolved to one PostgreSQL version: what the builder and
// the provisioner read.
type Facts struct {
	Profile           `yaml:",inline"`
	PostgreSQLVersion string     `yaml:"postgresqlVersion"`
	PG                PostgreSQL `yaml:"pg"`
}

// Names lists the embedded profiles, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(embedded, ".")
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
		}
	}
	sort.Strings(names)
	return names
}

// Load reads and validates the embedded profile NAME.
func Load(name string) (*Profile, error) {
	data, err := embedded.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("unknown profile %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return Parse(name+".yaml", data)
}

// All loads every embedded profile.
func All() ([]*Profile, error) {
	var all []*Profile
	for _, n := range Names() {
		p, err := Load(n)
		if err != nil {
			return nil, err
		}
		all = append(all, p)
	}
	return all, nil
}

// Resolve loads profile NAME and picks PostgreSQL version pg ("" for the default).
func Resolve(name, pg string) (*Facts, error) {
	p, err := Load(name)
	if err != nil {
		return nil, err
	}
	return p.Resolve(pg)
}

// Resolve picks one PostgreSQL version of the profile.
func (p *Profile) Resolve(pg string) (*Facts, error) {
	if pg == "" {
		pg = p.PostgreSQL.Default
	}
	v, ok := p.Versions[pg]
	if !ok {
		return nil, fmt.Errorf("profile %s offers no PostgreSQL %q (offers: %s)", p.Name, pg, strings.Join(p.VersionNames(), ", "))
	}
	f := &Facts{Profile: *p, PostgreSQLVersion: pg, PG: *v}
	f.Versions = nil
	return f, nil
}

// VersionNames lists the PostgreSQL versions a profile offers, sorted.
func (p *Profile) VersionNames() []string {
	var vs []string
	for v := range p.Versions {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	return vs
}

// Parse decodes a profile document strictly and checks that every fact is present.
// Errors name the file and the key.
func Parse(file string, data []byte) (*Profile, error) {
	var p Profile
	if err := inputfile.DecodeShippedYAML(file, data, &p); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if want := strings.TrimSuffix(path.Base(file), ".yaml"); p.Name != want {
		return nil, fmt.Errorf("%s: key name: %q does not match the file name %q", file, p.Name, want)
	}
	return &p, nil
}

func (p *Profile) validate() error {
	if err := requireFacts(reflect.ValueOf(*p), ""); err != nil {
		return err
	}
	if _, ok := p.Versions[p.PostgreSQL.Default]; !ok {
		return fmt.Errorf("key postgresql.default: %q is not among postgresqlVersions", p.PostgreSQL.Default)
	}
	if len(p.Versions) > 1 && p.PostgreSQL.HowToChoose == "" {
		return fmt.Errorf("key postgresql.howToChoose: missing; the profile offers several versions")
	}
	if err := oneOf("packageManager", p.PackageManager, "apt", "yum", "dnf"); err != nil {
		return err
	}
	if err := oneOf("ssh.keyType", p.SSH.KeyType, "ed25519", "ecdsa"); err != nil {
		return err
	}
	if p.SSH.KeyType == "ecdsa" && p.SSH.KeyBits != 256 && p.SSH.KeyBits != 384 && p.SSH.KeyBits != 521 {
		return fmt.Errorf("key ssh.keyBits: ecdsa needs 256, 384 or 521, got %d", p.SSH.KeyBits)
	}
	if p.SELinux.Enabled && len(p.SELinux.Commands) == 0 {
		return fmt.Errorf("key selinux.commands: missing; selinux is enabled")
	}
	for i, c := range p.SELinux.Commands {
		if len(c.Run) == 0 {
			return fmt.Errorf("key selinux.commands[%d].run: missing", i)
		}
	}
	// The primary writes authorized_keys under home; an account made with
	// another home (adduser --system defaults to /nonexistent) would never
	// read it.
	if !slices.Contains(p.SyncUser.Command, p.SyncUser.Home) {
		return fmt.Errorf("key syncUser.command: must create the account with home %s (syncUser.home)", p.SyncUser.Home)
	}
	if err := p.Disk.validate(); err != nil {
		return err
	}
	if err := p.Systemd.validate(); err != nil {
		return err
	}
	if err := oneOf("restart.services.policy", p.Restart.Services.Policy, "on-failure", "always"); err != nil {
		return err
	}
	if err := oneOf("restart.provision.policy", p.Restart.Provision.Policy, "on-failure"); err != nil {
		return err
	}
	if p.Bootstrap.Tool == "debootstrap" {
		if err := p.Bootstrap.validateDebootstrap(); err != nil {
			return err
		}
	}
	if err := p.Install.validate(p.PackageManager); err != nil {
		return err
	}
	if err := p.FirstBoot.validate(&p.Install); err != nil {
		return err
	}
	for _, v := range p.VersionNames() {
		if err := p.Versions[v].validate("postgresqlVersions." + v); err != nil {
			return err
		}
	}
	return nil
}

func (pg *PostgreSQL) validate(at string) error {
	if err := oneOf(at+".serverconf.method", pg.Serverconf.Method, ServerconfMethods...); err != nil {
		return err
	}
	if err := oneOf(at+".standby.method", pg.Standby.Method, StandbyMethods...); err != nil {
		return err
	}
	checks := []struct {
		key, val string
		allowed  []string
	}{
		{"walLevel", pg.WalLevel, []string{"hot_standby", "replica"}},
		{"walRetentionKey", pg.WalRetentionKey, []string{"wal_keep_segments", "wal_keep_size"}},
		{"passwordEncryption", pg.PasswordEncryption, []string{"md5", "scram-sha-256"}},
		{"serverconf.authHost", pg.Serverconf.AuthHost, []string{"md5", "scram-sha-256"}},
	}
	for _, c := range checks {
		if err := oneOf(at+"."+c.key, c.val, c.allowed...); err != nil {
			return err
		}
	}
	// Version rules the reference automation gets wrong: a PostgreSQL below 13
	// refuses to start with wal_keep_size, and below 12 knows no standby.signal.
	if pg.Major < 13 && pg.WalRetentionKey != "wal_keep_segments" {
		return fmt.Errorf("key %s.walRetentionKey: PostgreSQL %d needs wal_keep_segments", at, pg.Major)
	}
	if pg.Major >= 13 && pg.WalRetentionKey != "wal_keep_size" {
		return fmt.Errorf("key %s.walRetentionKey: PostgreSQL %d needs wal_keep_size", at, pg.Major)
	}
	base, unit, err := amount(pg.WalRetentionValue)
	if err != nil || base <= 0 {
		return fmt.Errorf("key %s.walRetentionValue: %q is not a positive amount", at, pg.WalRetentionValue)
	}
	if per, perUnit, err := amount(pg.WalRetentionPerSecondary); err != nil || per < 0 || perUnit != unit {
		return fmt.Errorf("key %s.walRetentionPerSecondary: %q is not an amount in walRetentionValue's unit %q", at, pg.WalRetentionPerSecondary, unit)
	}
	if pg.Major < 12 && pg.Standby.Method != RecoveryConf {
		return fmt.Errorf("key %s.standby.method: PostgreSQL %d needs recovery.conf", at, pg.Major)
	}
	if pg.Major >= 12 && pg.Standby.Method != StandbySignal {
		return fmt.Errorf("key %s.standby.method: PostgreSQL %d needs standby.signal", at, pg.Major)
	}
	for f := range pg.Lacks {
		if !slices.Contains(Features, f) {
			return fmt.Errorf("key %s.lacks.%s: unknown feature (known: %s)", at, f, strings.Join(Features, ", "))
		}
	}
	if pg.Major < 10 && pg.PasswordEncryption == "md5" && pg.PasswordEncryptionSetting != "on" {
		return fmt.Errorf("key %s.passwordEncryptionSetting: PostgreSQL %d's password_encryption is a boolean; 'on' stores md5", at, pg.Major)
	}
	if pg.Standby.PromoteAs == "root" {
		return fmt.Errorf("key %s.standby.promoteAs: pg_ctl cannot be run as root; name the PostgreSQL OS user", at)
	}
	if pg.Standby.Method == RecoveryConf && pg.Standby.TriggerFile == "" {
		return fmt.Errorf("key %s.standby.triggerFile: missing; recovery.conf needs a trigger_file", at)
	}
	if pg.Serverconf.Method != CreateCluster {
		if pg.Serverconf.BaseUnit == "" {
			return fmt.Errorf("key %s.serverconf.baseUnit: missing; method %s needs the packaged unit", at, pg.Serverconf.Method)
		}
		if pg.Serverconf.UnitFile == "" {
			return fmt.Errorf("key %s.serverconf.unitFile: missing; method %s writes a unit", at, pg.Serverconf.Method)
		}
	}
	return nil
}

// validate checks that a platform either makes disks, with every boot fact,
// or says why it cannot.
func (d *Disk) validate() error {
	if d.Unavailable != "" {
		if len(d.Packages) > 0 || d.Kernel != "" || len(d.Initrd) > 0 || d.Bootloader != "" || len(d.Targets) > 0 {
			return fmt.Errorf("key disk: unavailable and boot facts together")
		}
		return nil
	}
	switch {
	case len(d.Packages) == 0:
		return fmt.Errorf("key disk.packages: missing (or disk.unavailable with the reason)")
	case !strings.Contains(d.Kernel, "{version}") || !path.IsAbs(d.Kernel):
		return fmt.Errorf("key disk.kernel: %q must be an absolute path with {version}", d.Kernel)
	case len(d.Initrd) == 0:
		return fmt.Errorf("key disk.initrd: missing")
	case !path.IsAbs(d.Bootloader):
		return fmt.Errorf("key disk.bootloader: %q is not an absolute path", d.Bootloader)
	}
	for i, p := range d.Initrd {
		if !strings.Contains(p, "{version}") || !path.IsAbs(p) {
			return fmt.Errorf("key disk.initrd[%d]: %q must be an absolute path with {version}", i, p)
		}
	}
	if len(d.Targets) == 0 {
		return fmt.Errorf("key disk.targets: missing: the guest facts of each disk output")
	}
	for _, name := range slices.Sorted(maps.Keys(d.Targets)) {
		if err := d.Targets[name].validate("disk.targets." + name); err != nil {
			return err
		}
	}
	return nil
}

// validate checks one target's guest facts: each list present, every entry
// one word (a kernel argument with a blank would split the command line).
func (g Guest) validate(at string) error {
	if g.Cloud == "" {
		return fmt.Errorf("key %s.cloud: missing", at)
	}
	for key, list := range map[string][]string{"drivers": g.Drivers, "kernelArgs": g.KernelArgs, "datasources": g.Datasources} {
		if len(list) == 0 {
			return fmt.Errorf("key %s.%s: missing", at, key)
		}
		for i, v := range list {
			if v == "" || strings.ContainsAny(v, " \t\n\r\"'") {
				return fmt.Errorf("key %s.%s[%d]: %q: one word without blanks or quotes", at, key, i, v)
			}
		}
	}
	if slices.Contains(g.Datasources, "None") {
		return fmt.Errorf("key %s.datasources: None is added last by the build; leave it out", at)
	}
	for i, p := range g.Packages {
		// {version} is the one placeholder; the rest is a package name.
		if name := strings.ReplaceAll(p, "{version}", "0"); !packageName.MatchString(name) {
			return fmt.Errorf("key %s.packages[%d]: %q is not a package name (with {version} for the kernel's)", at, i, p)
		}
	}
	return nil
}

// packageName is what Debian and RPM package names are made of.
var packageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_-]*$`)

var fingerprint = regexp.MustCompile(`^[0-9A-F]{40}$`)

// validateDebootstrap checks what a trusted debootstrap needs: a script, the
// archive's components and sources, and a keyring pinned to known keys.
func (b *Bootstrap) validateDebootstrap() error {
	switch {
	case b.Script == "":
		return fmt.Errorf("key bootstrap.script: missing; debootstrap needs the script for suite %s", b.Suite)
	case len(b.Components) == 0:
		return fmt.Errorf("key bootstrap.components: missing")
	case len(b.Sources) == 0:
		return fmt.Errorf("key bootstrap.sources: missing")
	case b.Keyring == nil:
		return fmt.Errorf("key bootstrap.keyring: missing; debootstrap verifies the archive with it")
	}
	if b.Sources[0].URI != b.Mirror || len(b.Sources[0].Suites) == 0 || b.Sources[0].Suites[0] != b.Suite {
		return fmt.Errorf("key bootstrap.sources: the first source must be the mirror %s with suite %s first", b.Mirror, b.Suite)
	}
	for i, src := range b.Sources {
		if src.URI == "" || len(src.Suites) == 0 {
			return fmt.Errorf("key bootstrap.sources[%d]: needs uri and suites", i)
		}
	}
	k := b.Keyring
	if (k.Package == "") == (k.HostFile == "") {
		return fmt.Errorf("key bootstrap.keyring: give package (with file) or hostFile, not both")
	}
	if k.Package != "" && k.File == "" {
		return fmt.Errorf("key bootstrap.keyring.file: missing; the keyring's path inside %s", k.Package)
	}
	if len(k.Fingerprints) == 0 {
		return fmt.Errorf("key bootstrap.keyring.fingerprints: missing; pin the archive's signing keys")
	}
	for i, f := range k.Fingerprints {
		if !fingerprint.MatchString(f) {
			return fmt.Errorf("key bootstrap.keyring.fingerprints[%d]: %q is not a 40-digit upper-case fingerprint", i, f)
		}
	}
	if !path.IsAbs(k.Path) {
		return fmt.Errorf("key bootstrap.keyring.path: %q is not an absolute path", k.Path)
	}
	return nil
}

// validate checks the unit forms against the systemd that reads them: a
// oneshot unit takes Restart= only from 244 on (older ones refuse to load
// it), [Unit] start limits only from 230 on (older ones ignore them).
func (s *Systemd) validate() error {
	if err := oneOf("systemd.provisionRetry", s.ProvisionRetry, "restart", "on-failure-unit"); err != nil {
		return err
	}
	if err := oneOf("systemd.startLimits", s.StartLimits, "unit", "service"); err != nil {
		return err
	}
	if s.ProvisionRetry == "restart" && s.Version < 244 {
		return fmt.Errorf("key systemd.provisionRetry: restart needs systemd 244 (Restart= on a oneshot unit); this is %d: use on-failure-unit", s.Version)
	}
	if s.StartLimits == "unit" && s.Version < 230 {
		return fmt.Errorf("key systemd.startLimits: unit needs systemd 230; this is %d: use service", s.Version)
	}
	return nil
}

func oneOf[S ~string](key string, val S, allowed ...S) error {
	if slices.Contains(allowed, val) {
		return nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return fmt.Errorf("key %s: %q is not one of %s", key, val, strings.Join(names, ", "))
}

// requireFacts walks a decoded value and reports the first empty field that is
// not tagged fact:"optional", by its YAML key path. Booleans may be false.
func requireFacts(v reflect.Value, at string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		key := tag[0]
		inline := len(tag) > 1 && tag[1] == "inline"
		full := key
		if at != "" {
			full = at + "." + key
		}
		if inline {
			full = at
		}
		fv := v.Field(i)
		optional := f.Tag.Get("fact") == "optional"
		switch fv.Kind() {
		case reflect.Struct:
			if err := requireFacts(fv, full); err != nil {
				return err
			}
		case reflect.Map:
			if fv.Len() == 0 && !optional {
				return fmt.Errorf("key %s: missing", full)
			}
			if fv.Type().Elem().Kind() == reflect.Ptr {
				iter := fv.MapRange()
				for iter.Next() {
					if iter.Value().IsNil() {
						return fmt.Errorf("key %s.%v: missing", full, iter.Key())
					}
					if err := requireFacts(iter.Value().Elem(), fmt.Sprintf("%s.%v", full, iter.Key())); err != nil {
						return err
					}
				}
			}
		case reflect.Bool:
		default:
			if fv.IsZero() && !optional {
				return fmt.Errorf("key %s: missing", full)
			}
		}
	}
	return nil
}

// ParseFacts decodes resolved facts as baked into an image (nodestate.FactsFile), strictly.
func ParseFacts(file string, data []byte) (*Facts, error) {
	var f Facts
	if err := inputfile.DecodeShippedYAML(file, data, &f); err != nil {
		return nil, err
	}
	if err := f.PG.validate("pg"); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &f, nil
}

// IgnoreDatabaseSetup is the variable X-Road's packages read to skip their
// database setup, which needs a running PostgreSQL.
const IgnoreDatabaseSetup = "XROAD_IGNORE_DATABASE_SETUP"

var (
	envName         = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	debconfOwner    = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*$`)
	debconfQuestion = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*/[A-Za-z0-9._/-]+$`)
	debconfTypes    = []string{"string", "boolean", "select", "multiselect", "note", "text", "title", "error"}
)

func (in *Install) validate(packageManager string) error {
	for _, k := range slices.Sorted(maps.Keys(in.Env)) {
		if !envName.MatchString(k) {
			return fmt.Errorf("key install.env.%s: not an environment variable name", k)
		}
		if strings.ContainsAny(in.Env[k], "\x00\n") {
			return fmt.Errorf("key install.env.%s: the value holds a NUL or a newline", k)
		}
	}
	if in.Env[IgnoreDatabaseSetup] == "" {
		return fmt.Errorf("key install.env.%s: missing; X-Road's packages would set up databases (and write passwords) in the image", IgnoreDatabaseSetup)
	}
	if len(in.Debconf) > 0 && packageManager != "apt" {
		return fmt.Errorf("key install.debconf: packageManager %s has no debconf", packageManager)
	}
	for i, a := range in.Debconf {
		at := fmt.Sprintf("install.debconf[%d]", i)
		switch {
		case !debconfOwner.MatchString(a.Owner):
			return fmt.Errorf("key %s.owner: %q is not a package name", at, a.Owner)
		case !debconfQuestion.MatchString(a.Question):
			return fmt.Errorf("key %s.question: %q is not a debconf question (owner/name)", at, a.Question)
		case a.Type == "password":
			return fmt.Errorf("key %s.type: an image holds no password; the node sets %s at first boot", at, a.Question)
		case !slices.Contains(debconfTypes, a.Type):
			return fmt.Errorf("key %s.type: %q is not one of %s", at, a.Type, strings.Join(debconfTypes, ", "))
		case strings.ContainsAny(a.Value, "\x00\n"):
			return fmt.Errorf("key %s.value: holds a NUL or a newline", at)
		}
	}
	for i, p := range in.Remove {
		if err := CheckImagePattern(p); err != nil {
			return fmt.Errorf("key install.remove[%d]: %w", i, err)
		}
	}
	for i, p := range in.Empty {
		if err := CheckImagePattern(p); err != nil {
			return fmt.Errorf("key install.empty[%d]: %w", i, err)
		}
		if strings.ContainsAny(p, "*?[\\") {
			return fmt.Errorf("key install.empty[%d]: %q: a path, not a pattern", i, p)
		}
		if j := slices.IndexFunc(in.Remove, func(r string) bool { ok, _ := path.Match(r, p); return ok }); j >= 0 {
			return fmt.Errorf("key install.empty[%d]: %s is also removed by install.remove[%d]", i, p, j)
		}
	}
	return nil
}

// CheckImagePattern checks a path or glob of per-install material: absolute,
// clean, a valid path.Match pattern, and not the root or a kernel file
// system. Image definitions use it too.
func CheckImagePattern(p string) error {
	switch {
	case !path.IsAbs(p):
		return fmt.Errorf("%q is not an absolute path", p)
	case path.Clean(p) != p || p == "/":
		return fmt.Errorf("%q is not a clean path below /", p)
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("%q: %w", p, err)
	}
	if strings.ContainsAny(path.Dir(p), "*?[\\") {
		return fmt.Errorf("%q: a pattern in the last element only", p)
	}
	for _, k := range []string{"/proc", "/sys", "/dev"} {
		if p == k || strings.HasPrefix(p, k+"/") {
			return fmt.Errorf("%q is under %s, which is not in an image", p, k)
		}
	}
	return nil
}

// Removed reports whether the image path p is matched by a pattern of remove.
func Removed(remove []string, p string) bool {
	return slices.ContainsFunc(remove, func(r string) bool { ok, _ := path.Match(r, p); return ok })
}

func (fb *FirstBoot) validate(in *Install) error {
	s := fb.SelfSignedCertificate
	if s == nil {
		return nil
	}
	const at = "firstBoot.selfSignedCertificate"
	if len(s.Command) == 0 || !path.IsAbs(s.Command[0]) {
		return fmt.Errorf("key %s.command: needs an absolute program path first", at)
	}
	for i, a := range s.Command {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\%$") {
			return fmt.Errorf("key %s.command[%d]: %q: one word without blanks, quotes, %% or $ (it becomes a unit's ExecStart)", at, i, a)
		}
	}
	if len(s.Files) == 0 {
		return fmt.Errorf("key %s.files: missing; what the command makes", at)
	}
	for i, f := range s.Files {
		if !path.IsAbs(f) || path.Clean(f) != f || strings.ContainsAny(f, "*?[\\") {
			return fmt.Errorf("key %s.files[%d]: %q is not an absolute path", at, i, f)
		}
		if !Removed(in.Remove, f) {
			return fmt.Errorf("key %s.files[%d]: %s is not in install.remove; the image would carry one node's key", at, i, f)
		}
	}
	for i, u := range s.Before {
		if u == "" || strings.ContainsAny(u, " /") || !strings.Contains(u, ".") {
			return fmt.Errorf("key %s.before[%d]: %q is not a unit name", at, i, u)
		}
	}
	return nil
}
