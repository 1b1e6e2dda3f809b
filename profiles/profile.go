// Package profiles holds one YAML file per OS target and the typed loader that
// turns them into resolved facts. Every difference between platforms and
// PostgreSQL versions lives here as data, so that code never asks "is this RHEL?".
package profiles

import (
	"slices"
	"strconv"
	"strings"
)

// Profile is one OS target as written in profiles/NAME.yaml. A profile offers
// one or more PostgreSQL versions; Resolve picks one and yields Facts.
type Profile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Legacy      bool   `yaml:"legacy"`
	OS          OS     `yaml:"os"`
	// PackageManager is apt, yum or dnf.
	PackageManager string    `yaml:"packageManager"`
	Bootstrap      Bootstrap `yaml:"bootstrap"`
	// Disk is how a bootable disk of this platform is made.
	Disk    Disk    `yaml:"disk"`
	XRoad   XRoad   `yaml:"xroad"`
	SSH     SSH     `yaml:"ssh"`
	SELinux SELinux `yaml:"selinux"`
	// SyncUser is how the xroad-slave system user is created on the primary (guide 5.1).
	SyncUser SyncUser `yaml:"syncUser"`
	// PostgreSQL is the default version offered; Versions holds every version
	// the platform offers, keyed by major version ("9.2", "12", ...).
	PostgreSQL PostgreSQLChoice       `yaml:"postgresql"`
	Versions   map[string]*PostgreSQL `yaml:"postgresqlVersions"`
	// Install is how the package layer installs and what it must not keep.
	Install Install `yaml:"install"`
	// FirstBoot is what a node makes for itself because the image must not
	// carry it.
	FirstBoot FirstBoot `yaml:"firstBoot"`
	// Systemd is what the platform's systemd can do to restart a unit.
	Systemd Systemd `yaml:"systemd"`
	// Restart is how the appliance's units come back after a crash or a
	// failed run.
	Restart Restart `yaml:"restart"`
}

// Systemd names the platform's systemd and the unit forms it understands.
type Systemd struct {
	// Version is the platform's systemd (219 on RHEL 7, 239 on RHEL 8).
	Version int `yaml:"version"`
	// ProvisionRetry is how a failed first-boot run starts again: restart
	// (Restart=on-failure on its oneshot unit, systemd 244 on) or
	// on-failure-unit (OnFailure= starts a unit that starts it again).
	ProvisionRetry string `yaml:"provisionRetry"`
	// StartLimits is where the start limits go: unit ([Unit]
	// StartLimitIntervalSec=, systemd 230 on) or service ([Service]
	// StartLimitInterval=, before).
	StartLimits string `yaml:"startLimits"`
}

// Restart bounds the restarts of the appliance's units: Services (the
// PostgreSQL instances and the X-Road services) and Provision (the
// first-boot run). A unit restarted more than Burst times within Interval
// stays failed.
type Restart struct {
	Services  RestartPolicy `yaml:"services"`
	Provision RestartPolicy `yaml:"provision"`
}

// RestartPolicy is one unit's Restart=, RestartSec= and start limits.
type RestartPolicy struct {
	// Policy is the unit's Restart= (on-failure, always).
	Policy string `yaml:"policy"`
	// Delay is RestartSec=, Interval StartLimitIntervalSec= (systemd time spans).
	Delay    string `yaml:"delay"`
	Burst    int    `yaml:"burst"`
	Interval string `yaml:"interval"`
}

// Install is how the packages are installed into an image and which
// per-install material (keys, passwords, machine identity) the packages
// make that the image must not keep: every node makes its own.
type Install struct {
	// Env is added to the environment of every package-manager command of
	// the package layer (XROAD_IGNORE_DATABASE_SETUP: no database setup
	// without a running PostgreSQL).
	Env map[string]string `yaml:"env"`
	// Debconf answers are given to debconf-set-selections in the image
	// before the install (apt family only).
	Debconf []DebconfAnswer `yaml:"debconf,omitempty" fact:"optional"`
	// Remove lists absolute paths and globs (path.Match) removed from the
	// package layer after the install; the build's secret scan fails if one
	// is left in the image.
	Remove []string `yaml:"remove"`
	// Empty lists files kept but emptied (/etc/machine-id: systemd makes
	// the id at first boot when the file is empty).
	Empty []string `yaml:"empty,omitempty" fact:"optional"`
}

// DebconfAnswer is one debconf-set-selections line: owner question type value.
type DebconfAnswer struct {
	Owner    string `yaml:"owner"`
	Question string `yaml:"question"`
	Type     string `yaml:"type"`
	Value    string `yaml:"value"`
}

// Line is the answer as debconf-set-selections reads it.
func (a DebconfAnswer) Line() string {
	return a.Owner + " " + a.Question + " " + a.Type + " " + a.Value
}

// FirstBoot is what a node makes at first boot.
type FirstBoot struct {
	// SelfSignedCertificate regenerates the distribution's default
	// self-signed TLS pair (ssl-cert's snakeoil, which PostgreSQL's
	// clusters use) that the image does not carry; absent where the
	// platform has none.
	SelfSignedCertificate *SelfSignedCertificate `yaml:"selfSignedCertificate,omitempty" fact:"optional"`
}

// SelfSignedCertificate is a command run once, before the units in Before
// and the PostgreSQL instances start, while one of Files is missing.
type SelfSignedCertificate struct {
	Command []string `yaml:"command"`
	// Files are what Command makes; each must be in install.remove.
	Files []string `yaml:"files"`
	// Before are units that use the pair, besides the PostgreSQL instances
	// and the provisioner.
	Before []string `yaml:"before,omitempty"`
	// After are the distribution's own units that make the pair without
	// ordering it before PostgreSQL (Ubuntu 24.04's ssl-cert.service): this
	// unit waits for them and then finds the pair made, rather than racing
	// them for debconf's lock.
	After []string `yaml:"after,omitempty"`
}

// OS names the distribution.
type OS struct {
	ID       string `yaml:"id"`                       // os-release ID: ubuntu, rhel, debian
	Version  string `yaml:"version"`                  // os-release VERSION_ID
	Codename string `yaml:"codename" fact:"optional"` // empty on RHEL
	// Locale is the system locale cloud-init sets at first boot. It must
	// exist without generating anything: cloud-init's default (en_US.UTF-8)
	// is missing from minimal bases, and Debian's locale-gen ignores the name
	// it is given, so the config stage fails and the node ends degraded.
	Locale string `yaml:"locale,omitempty" fact:"optional"`
}

// Bootstrap says how a base root file system is made when no OCI base is given.
type Bootstrap struct {
	Tool    string   `yaml:"tool"`    // debootstrap or dnf
	Suite   string   `yaml:"suite"`   // debootstrap suite; releasever for dnf
	Mirror  string   `yaml:"mirror"`  // distribution mirror
	Include []string `yaml:"include"` // packages every appliance base needs
	// Script is debootstrap's script for Suite (a name under its scripts
	// directory): the build host's debootstrap may predate the suite.
	Script string `yaml:"script,omitempty" fact:"optional"`
	// Components of the distribution's archive the image uses.
	Components []string `yaml:"components,omitempty" fact:"optional"`
	// Sources are the image's apt sources, the release with its update and
	// security pockets, every one verified with Keyring (signed-by).
	Sources []AptSource `yaml:"sources,omitempty" fact:"optional"`
	// Keyring is the archive's signing keyring, trusted only for the pinned keys.
	Keyring *ArchiveKeyring `yaml:"keyring,omitempty" fact:"optional"`
}

// Disk says what a bootable disk of the platform carries and where its
// packages put what the disk boots with. Paths are inside the image;
// {version} stands for the kernel version.
type Disk struct {
	// Unavailable is why this platform's disks cannot be made; the other
	// facts are then absent.
	Unavailable string `yaml:"unavailable,omitempty" fact:"optional"`
	// Packages are added when a disk output is asked for: the kernel, the
	// boot loader and the initrd generator.
	Packages []string `yaml:"packages,omitempty" fact:"optional"`
	// Kernel is the kernel image, e.g. /boot/vmlinuz-{version}.
	Kernel string `yaml:"kernel,omitempty" fact:"optional"`
	// Initrd lists where the kernel's initrd may be, first found wins.
	Initrd []string `yaml:"initrd,omitempty" fact:"optional"`
	// Bootloader is the systemd-boot UEFI binary the ESP boots.
	Bootloader string `yaml:"bootloader,omitempty" fact:"optional"`
	// Targets are the guest facts of each disk output (raw, qcow2, vmdk,
	// vhd, gce, ova): what the cloud that imports it needs in the guest.
	Targets map[string]Guest `yaml:"targets,omitempty" fact:"optional"`
}

// Guest is what one disk output's guest carries for the cloud it is made
// for. A disk asked for several outputs carries the union.
type Guest struct {
	// Cloud names the platform, for messages and documentation.
	Cloud string `yaml:"cloud"`
	// Drivers must be in the initrd or built into the kernel; the build
	// checks the initrd and fails naming any that is missing.
	Drivers []string `yaml:"drivers"`
	// KernelArgs go on the kernel command line (the serial console among
	// them: clouds show it as the boot log).
	KernelArgs []string `yaml:"kernelArgs"`
	// Datasources is cloud-init's datasource_list for the disk, in order
	// ("None" is added last).
	Datasources []string `yaml:"datasources"`
	// Packages are added to the image only when this target's disk is asked
	// for, e.g. the kernel modules that carry a driver the disk's kernel
	// package lacks. {version} stands for the version of the kernel the
	// disk boots: such a package is installed after the kernel, named for it.
	Packages []string `yaml:"packages,omitempty" fact:"optional"`
}

// GuestFor merges the guest facts of the disk outputs named, in order,
// without repeats.
func (d Disk) GuestFor(outputs []string) Guest {
	var g Guest
	add := func(dst *[]string, vals []string) {
		for _, v := range vals {
			if !slices.Contains(*dst, v) {
				*dst = append(*dst, v)
			}
		}
	}
	for _, o := range outputs {
		t, ok := d.Targets[o]
		if !ok {
			continue
		}
		add(&g.Drivers, t.Drivers)
		add(&g.KernelArgs, t.KernelArgs)
		add(&g.Datasources, t.Datasources)
		add(&g.Packages, t.Packages)
	}
	return g
}

// AptSource is one archive address and the suites the image reads from it.
type AptSource struct {
	URI    string   `yaml:"uri"`
	Suites []string `yaml:"suites"`
}

// ArchiveKeyring says where the distribution's archive keyring comes from
// and which of its keys are trusted.
type ArchiveKeyring struct {
	// Package is the keyring package's path in the mirror's pool; File is
	// the keyring's path inside it.
	Package string `yaml:"package,omitempty" fact:"optional"`
	File    string `yaml:"file,omitempty" fact:"optional"`
	// HostFile is a keyring the build host's own packages installed.
	HostFile string `yaml:"hostFile,omitempty" fact:"optional"`
	// Fingerprints are the primary keys trusted; every other key of the
	// keyring is dropped, and a keyring lacking one of them is refused.
	Fingerprints []string `yaml:"fingerprints"`
	// Path is where the image keeps the trusted keys for apt's signed-by.
	Path string `yaml:"path"`
}

// XRoad holds the X-Road package repository and package sets.
type XRoad struct {
	Repository Repository `yaml:"repository"`
	// Packages per node kind: securityserver-primary, securityserver-secondary,
	// centralserver, cs-database.
	Packages map[string][]string `yaml:"packages"`
	// Unavailable gives, per package set this platform cannot have, the
	// reason an image asking for it is refused.
	Unavailable map[string]string `yaml:"unavailable" fact:"optional"`
	// Services are the X-Road services stopped before and started after provisioning.
	Services []string `yaml:"services"`
	// CentralServerServices are a central server node's services, started
	// after its provisioning; absent where X-Road ships no central server.
	CentralServerServices []string `yaml:"centralServerServices" fact:"optional"`
	// UIGroupsRemovedOnSecondary are the admin UI groups removed on a secondary
	// (guide 3.3 step 9); UIGroupsKept must survive.
	UIGroupsRemovedOnSecondary []string `yaml:"uiGroupsRemovedOnSecondary"`
	UIGroupsKept               []string `yaml:"uiGroupsKept"`
	// Setup is how a node makes, with the packages' own scripts, what an
	// image leaves out: TLS identities, databases, the admin user.
	Setup XRoadSetup `yaml:"setup"`
}

// XRoadSetup are the packages' scripts a node runs at first boot.
type XRoadSetup struct {
	// CertificateScript makes /etc/xroad/ssl/NAME.crt, .key and .p12
	// (generate_certificate.sh -n NAME -s SUBJECT -a ALTNAMES -p).
	CertificateScript string `yaml:"certificateScript"`
	// ProxyCertificates are the TLS identities a security-server primary
	// makes; the sync gives them to its secondaries.
	ProxyCertificates []string `yaml:"proxyCertificates"`
	// CentralServerCertificates are the ones a central server's package
	// makes when it is configured.
	CentralServerCertificates []string `yaml:"centralServerCertificates" fact:"optional"`
	// DatabaseSetup is each X-Road database's setup script, by its prefix in
	// db.properties (serverconf, messagelog, op-monitor).
	DatabaseSetup map[string]string `yaml:"databaseSetup"`
	// AdminUser is how the packages give the admin user its groups.
	AdminUser AdminUserRule `yaml:"adminUser"`
}

// AdminUserRule is the packages' rule for the X-Road admin user.
type AdminUserRule struct {
	// DebconfQuestion names the admin user to the packages; absent where
	// there is no debconf.
	DebconfQuestion string `yaml:"debconfQuestion" fact:"optional"`
	// Apply runs the packages' rule; {package} and {user} are replaced.
	Apply []string `yaml:"apply"`
	// SecurityServerPackage and CentralServerPackage own the rule.
	SecurityServerPackage string `yaml:"securityServerPackage"`
	CentralServerPackage  string `yaml:"centralServerPackage" fact:"optional"`
	// CentralServerGroups are the groups a central server's admin gets.
	CentralServerGroups []string `yaml:"centralServerGroups" fact:"optional"`
}

// Repository is a signed X-Road package repository.
type Repository struct {
	Kind string `yaml:"kind"` // deb or rpm
	// URL is the repository base; {version} and {suite} are replaced.
	URL string `yaml:"url"`
	// Suite is the apt suite (e.g. jammy-7.4.2) or the rpm release path.
	Suite      string   `yaml:"suite"`
	Components []string `yaml:"components" fact:"optional"`
	// SigningKeyURL is where the repository's public key is published;
	// SigningKeyFingerprint pins it.
	SigningKeyURL         string `yaml:"signingKeyURL"`
	SigningKeyFingerprint string `yaml:"signingKeyFingerprint" fact:"optional"`
	// Version is the X-Road version pin.
	Version string `yaml:"version"`
	// Keyring is where the key is placed in the image (apt signed-by, rpm gpgkey).
	Keyring string `yaml:"keyring"`
	// ListFile is the apt source list or yum .repo file path in the image.
	ListFile string `yaml:"listFile"`
}

// SSH holds the key type the platform requires (ECDSA nistp256 on FIPS RHEL 8/9).
type SSH struct {
	KeyType     string `yaml:"keyType"`                 // ed25519 or ecdsa
	KeyBits     int    `yaml:"keyBits" fact:"optional"` // 256 for ecdsa nistp256, 0 for ed25519
	ServerUnit  string `yaml:"serverUnit"`
	HostKeyFile string `yaml:"hostKeyFile"`
}

// SELinux lists the commands the guide prescribes on SELinux platforms.
type SELinux struct {
	Enabled  bool             `yaml:"enabled"`
	Commands []SELinuxCommand `yaml:"commands" fact:"optional"`
}

// SELinuxCommand is one of the guide's SELinux commands. Provisioning may
// run it again after a crash, so a command that refuses to repeat itself
// (semanage port -a on a defined port) names the one that sets the same
// state instead.
type SELinuxCommand struct {
	Run    []string `yaml:"run"`
	OrElse []string `yaml:"orElse" fact:"optional"`
}

// SyncUser is the xroad-slave account on the primary.
type SyncUser struct {
	Name    string   `yaml:"name"`
	Home    string   `yaml:"home"`
	Command []string `yaml:"command"`
}

// PostgreSQLChoice names the default PostgreSQL version and how a user picks another.
type PostgreSQLChoice struct {
	Default string `yaml:"default"`
	// HowToChoose tells a user how another offered version is selected.
	HowToChoose string `yaml:"howToChoose" fact:"optional"`
}

// PostgreSQL holds every fact of one PostgreSQL version on one platform.
type PostgreSQL struct {
	Major int `yaml:"major"` // 9 for 9.2, 10, 12, ...
	// Source says where the server packages come from (distro, module stream, PGDG).
	Source   string   `yaml:"source"`
	Packages []string `yaml:"packages"`
	// EnableCommand prepares the package source (e.g. dnf module enable postgresql:12).
	EnableCommand []string `yaml:"enableCommand" fact:"optional"`
	BinDir        string   `yaml:"binDir"`
	// Default is the instance X-Road's packages install (messagelog; serverconf before the split).
	Default Instance `yaml:"defaultInstance"`
	// Serverconf is the separate instance of guide 4.2.
	Serverconf Serverconf `yaml:"serverconf"`

	WalLevel string `yaml:"walLevel"` // hot_standby (9.2) or replica
	// WalRetentionKey is wal_keep_segments before 13 and wal_keep_size from 13 on.
	WalRetentionKey   string `yaml:"walRetentionKey"`
	WalRetentionValue string `yaml:"walRetentionValue"`
	// WalRetentionPerSecondary is added to WalRetentionValue for each
	// secondary, in the same unit: every secondary's base backup ends a WAL
	// segment, so secondaries taking theirs at once would push out the WAL
	// an earlier one still needs before its standby starts.
	WalRetentionPerSecondary string `yaml:"walRetentionPerSecondary"`
	// Standby is how a secondary becomes a hot standby.
	Standby   Standby   `yaml:"standby"`
	Functions Functions `yaml:"functions"`
	// ReplicationLSNColumn is replay_lsn from 10 on, replay_location before.
	ReplicationLSNColumn string `yaml:"replicationLSNColumn"`
	// PasswordEncryption is the server's password_encryption (md5 or scram-sha-256).
	PasswordEncryption string `yaml:"passwordEncryption"`
	// PasswordEncryptionSetting is the value written for password_encryption
	// where the server does not take the method's name: before 10 the
	// setting is a boolean ('on' stores md5), and 'md5' stops 9.2 starting.
	PasswordEncryptionSetting string `yaml:"passwordEncryptionSetting,omitempty" fact:"optional"`
	// Lacks names server features the appliance uses that this version does
	// not have (see Features), each with the version that brought it. A
	// command needing one is refused before it changes anything.
	Lacks map[string]string `yaml:"lacks,omitempty" fact:"optional"`
}

// Server features a PostgreSQL version may lack (PostgreSQL.Lacks keys).
const (
	// FeaturePendingRestart is pg_settings.pending_restart (9.5).
	FeaturePendingRestart = "pendingRestart"
	// FeatureAlterSystem is ALTER SYSTEM (9.4), used by handover.
	FeatureAlterSystem = "alterSystem"
	// FeatureLSNType is the pg_lsn type and aggregate FILTER (9.4), used by handover.
	FeatureLSNType = "lsnType"
	// FeatureWALReceiverView is pg_stat_wal_receiver (9.6), which promote
	// and repoint ask whether and from where WAL streams.
	FeatureWALReceiverView = "walReceiverView"
	// FeatureNoSync is pg_basebackup --no-sync (10; 9.3 to 9.6 spell it
	// --nosync), after which the base backup's file system is synced once.
	FeatureNoSync = "noSync"
)

// Features are the known Lacks keys.
var Features = []string{FeaturePendingRestart, FeatureAlterSystem, FeatureLSNType, FeatureWALReceiverView, FeatureNoSync}

// PasswordEncryptionValue is what the server's password_encryption is set to.
func (p *PostgreSQL) PasswordEncryptionValue() string {
	if p.PasswordEncryptionSetting != "" {
		return p.PasswordEncryptionSetting
	}
	return p.PasswordEncryption
}

// Instance is one PostgreSQL instance (cluster) on the node.
type Instance struct {
	Unit      string `yaml:"unit"`
	Port      int    `yaml:"port"`
	DataDir   string `yaml:"dataDir"`
	ConfigDir string `yaml:"configDir"`
	// Init creates the default instance's cluster where the packages do not
	// (RHEL's postgresql-setup), run as root at first boot; absent where
	// the package's install makes it (Debian's pg_createcluster main).
	Init []string `yaml:"init,omitempty" fact:"optional"`
}

// Serverconf is the separate serverconf instance and how it is created.
type Serverconf struct {
	Instance `yaml:",inline"`
	// Method is pg_createcluster, include-unit or copy-unit (guide 4.2.1.x, 4.2.2).
	Method ServerconfMethod `yaml:"method"`
	// BaseUnit is the packaged unit included or copied by the RHEL methods.
	BaseUnit string `yaml:"baseUnit" fact:"optional"`
	// UnitFile is where the RHEL methods write the instance unit.
	UnitFile string `yaml:"unitFile" fact:"optional"`
	// CreateCommand creates the instance; run as RunAs.
	CreateCommand []string `yaml:"createCommand"`
	// CreateEnv is the environment of CreateCommand (PGSETUP_INITDB_OPTIONS).
	CreateEnv map[string]string `yaml:"createEnv" fact:"optional"`
	RunAs     string            `yaml:"runAs"`
	// CreateNoSync makes CreateCommand's initdb leave out its fsync of each
	// file it wrote (initdb --no-sync); the provisioner syncs the file
	// system once afterwards instead, which is as durable and on a small
	// machine seconds faster. Absent where initdb has no --no-sync (9.2).
	CreateNoSync *NoSync `yaml:"createNoSync,omitempty" fact:"optional"`
	// AuthHost is the initdb --auth-host method (md5 or scram-sha-256).
	AuthHost string `yaml:"authHost"`
}

// ServerconfMethod is how the serverconf instance is made.
type ServerconfMethod string

// The serverconf methods.
const (
	// CreateCluster: Debian's pg_createcluster, whose generator starts
	// postgresql@ instances.
	CreateCluster ServerconfMethod = "pg_createcluster"
	// IncludeUnit: a unit that .includes the packaged one (guide 4.2.1.1).
	IncludeUnit ServerconfMethod = "include-unit"
	// CopyUnit: a copy of the packaged unit with its environment changed.
	CopyUnit ServerconfMethod = "copy-unit"
)

// ServerconfMethods are the serverconf methods a profile may name.
var ServerconfMethods = []ServerconfMethod{CreateCluster, IncludeUnit, CopyUnit}

// StandbyMethod is how a PostgreSQL standby is told it is one.
type StandbyMethod string

// The standby methods.
const (
	// StandbySignal: a standby.signal file and primary_conninfo in the
	// configuration (PostgreSQL >= 12).
	StandbySignal StandbyMethod = "standby.signal"
	// RecoveryConf: a recovery.conf with standby_mode (below 12).
	RecoveryConf StandbyMethod = "recovery.conf"
)

// StandbyMethods are the standby methods a profile may name.
var StandbyMethods = []StandbyMethod{StandbySignal, RecoveryConf}

// NoSync says how a create command passes --no-sync to initdb: Args are
// appended to the command (pg_createcluster's "-- --no-sync", initdb's
// own), Env values to CreateEnv's, space-separated (PGSETUP_INITDB_OPTIONS).
type NoSync struct {
	Args []string          `yaml:"args,omitempty"`
	Env  map[string]string `yaml:"env,omitempty"`
}

// Standby is the platform's standby method.
type Standby struct {
	// Method is standby.signal (PostgreSQL >= 12) or recovery.conf (below 12).
	Method StandbyMethod `yaml:"method"`
	// TriggerFile is the recovery.conf trigger_file; empty with standby.signal.
	TriggerFile string `yaml:"triggerFile" fact:"optional"`
	// PromoteCommand promotes a standby; PromoteAs is the OS user it runs
	// as: pg_ctl refuses to run as root, also where the instance is
	// created by root.
	PromoteCommand []string `yaml:"promoteCommand"`
	PromoteAs      string   `yaml:"promoteAs"`
	// ConninfoReload is true when primary_conninfo changes take effect on
	// reload (PostgreSQL >= 13); otherwise a restart is needed.
	ConninfoReload bool `yaml:"conninfoReload"`
}

// Functions are the SQL function names that changed in PostgreSQL 10.
type Functions struct {
	ReplayPause  string `yaml:"replayPause"`
	ReplayResume string `yaml:"replayResume"`
	ReplayPaused string `yaml:"replayPaused"`
	LastReceive  string `yaml:"lastReceive"`
	LastReplay   string `yaml:"lastReplay"`
	CurrentLSN   string `yaml:"currentLSN"`
	LSNDiff      string `yaml:"lsnDiff"`
}

// WalRetention is the retention setting for a primary with this many
// secondaries: the guide's value plus WalRetentionPerSecondary for each.
func (pg *PostgreSQL) WalRetention(secondaries int) string {
	base, unit, _ := amount(pg.WalRetentionValue)
	per, _, _ := amount(pg.WalRetentionPerSecondary)
	return strconv.Itoa(base+per*secondaries) + unit
}

// amount splits "128MB" into 128 and "MB" ("8" into 8 and "").
func amount(v string) (int, string, error) {
	i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(v)
	}
	n, err := strconv.Atoi(v[:i])
	return n, v[i:], err
}
