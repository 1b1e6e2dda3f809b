// Package definition reads image definitions (images/*.yaml): what an
// appliance image is made of and which outputs a build writes. Decoding is
// strict, and every error names the file and the key path; command-line flags
// override keys (Apply) and errors about an overridden value name the flag.
package definition

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/inputfile"
)

// Definition is one image definition as written in images/NAME.yaml.
type Definition struct {
	// Name is the image repository name, e.g. xroad-securityserver.
	Name string `yaml:"name"`
	// Profile is the default OS profile; PostgreSQL one of its versions ("" for its default).
	Profile    string `yaml:"profile"`
	PostgreSQL string `yaml:"postgresql"`
	// Source is recorded as org.opencontainers.image.source (optional).
	Source string `yaml:"source"`
	XRoad  XRoad  `yaml:"xroad"`
	// ExtraPackages are installed with the X-Road packages.
	ExtraPackages []string `yaml:"extraPackages"`
	Units         Units    `yaml:"units"`
	Outputs       []string `yaml:"outputs"`
	// Registry is where the "registry" output pushes to.
	Registry string `yaml:"registry"`
	// Disk shapes the disk outputs (raw, qcow2, vmdk, vhd).
	Disk Disk `yaml:"disk"`
	// Base is where the root file system comes from (bootstrap when empty).
	Base Base `yaml:"base"`
	// Repository replaces the profile's X-Road repository (optional).
	Repository *Repository `yaml:"repository"`
	// SourceDateEpoch fixes every timestamp of the image (seconds since 1970).
	SourceDateEpoch int64 `yaml:"sourceDateEpoch"`
	// Install adds to the profile's install facts.
	Install Install `yaml:"install"`

	file  string            // where it was read from
	flags map[string]string // key → flag that overrode it
}

// XRoad selects the X-Road packages.
type XRoad struct {
	// PackageSets are keys of the profile's xroad.packages; one image serves
	// every role whose set is listed.
	PackageSets []string `yaml:"packageSets"`
	// Variant is vanilla or a national variant (ee, fi, is, ...), whose
	// metapackages carry the variant as a suffix (xroad-securityserver-fi).
	Variant string `yaml:"variant"`
	// Version pins the X-Road packages; "" means the profile's repository version.
	Version string `yaml:"version"`
}

// Units lists units the image enables besides those the appliance preset enables.
type Units struct {
	Enable []string `yaml:"enable"`
}

// Disk shapes the disk outputs; the zero value sizes the disk from the root
// file system.
type Disk struct {
	// SizeMiB is the whole disk; 0 computes it from the root file system
	// plus headroom.
	SizeMiB int64 `yaml:"sizeMiB"`
	// KernelArgs are added to the kernel command line.
	KernelArgs []string `yaml:"kernelArgs"`
}

// Install adds per-install material to the profile's install.remove.
type Install struct {
	// Remove lists absolute paths and globs (in the last element) removed
	// from the package layer besides the profile's; the secret scan fails
	// the build if one is left in the image.
	Remove []string `yaml:"remove"`
}

// Base names exactly one base source.
type Base struct {
	// Bootstrap makes the base with the profile's bootstrap tool (debootstrap, dnf).
	Bootstrap bool `yaml:"bootstrap"`
	// Image is a registry reference, pulled with the default keychain.
	Image string `yaml:"image"`
	// OCILayout is an OCI image layout directory; OCILayoutRef picks an image
	// in it by its org.opencontainers.image.ref.name (needed if it holds several).
	OCILayout    string `yaml:"ociLayout"`
	OCILayoutRef string `yaml:"ociLayoutRef"`
	// Rootfs is a root directory prepared elsewhere; it is copied, never changed.
	Rootfs string `yaml:"rootfs"`
}

// Repository is a repository that replaces the profile's X-Road repository:
// a local directory (offline and test builds) or another URL, with the
// keyring that verifies its signature.
type Repository struct {
	Dir        string   `yaml:"dir"`
	URL        string   `yaml:"url"`
	Keyring    string   `yaml:"keyring"`
	Suite      string   `yaml:"suite"`
	Components []string `yaml:"components"`
	// Offline fetches nothing but this repository: every other package must
	// already be in the base.
	Offline bool `yaml:"offline"`
}

// Output names.
const (
	OutputOCILayout       = "oci-layout"
	OutputDockerArchive   = "docker-archive"
	OutputRegistry        = "registry"
	OutputRootfsTar       = "rootfs-tar"
	OutputPackageManifest = "package-manifest"
)

// DiskOutputs are the outputs builder/disk writes, one per cloud's import
// format: raw (AWS), qcow2 (OpenStack), vmdk and ova (VMware), vhd (Azure),
// gce (Compute Engine). Asking for one adds the profile's kernel and
// bootloader packages (disk.packages) and its guest facts for that target
// (disk.targets).
var DiskOutputs = []string{"raw", "qcow2", "vmdk", "vhd", "gce", "ova"}

// Outputs lists the outputs a definition may ask for.
var Outputs = append([]string{OutputOCILayout, OutputDockerArchive, OutputRegistry, OutputRootfsTar, OutputPackageManifest}, DiskOutputs...)

// Load reads and validates the definition at path.
// The file must be a regular file of at most inputfile.MaxSize bytes.
func Load(path string) (*Definition, error) {
	data, err := inputfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("image definition: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a definition strictly and validates it. Relative paths in it
// are resolved against the directory of file. Errors name the key path and
// line and never quote an unknown key.
func Parse(file string, data []byte) (*Definition, error) {
	d := &Definition{file: inputfile.Name(file)}
	if err := inputfile.DecodeYAML(d.file, data, d); err != nil {
		return nil, err
	}
	d.resolvePaths(filepath.Dir(file))
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// File is the file the definition was read from.
func (d *Definition) File() string { return d.file }

func (d *Definition) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&d.Base.OCILayout)
	abs(&d.Base.Rootfs)
	if d.Repository != nil {
		abs(&d.Repository.Dir)
		abs(&d.Repository.Keyring)
	}
}

var (
	imageName   = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)
	packageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+._-]*$`)
	unitName    = regexp.MustCompile(`^[A-Za-z0-9:_.@-]+\.(service|socket|timer|target|path|mount)$`)
	variantName = regexp.MustCompile(`^[a-z]{2}$`)
	versionPin  = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*(-[A-Za-z0-9.+~]+)?$`)
)

// Validate checks everything that needs no profile. Errors name the key, or
// the flag that set it.
func (d *Definition) Validate() error {
	if d.Name == "" {
		return d.keyErr("name", "missing")
	}
	if !imageName.MatchString(d.Name) {
		return d.keyErr("name", "%q is not an image repository name (lower case, digits, . _ - and /)", d.Name)
	}
	if d.Profile == "" {
		return d.keyErr("profile", "missing")
	}
	if len(d.XRoad.PackageSets) == 0 {
		return d.keyErr("xroad.packageSets", "missing")
	}
	if d.XRoad.Variant == "" {
		return d.keyErr("xroad.variant", "missing (vanilla, or a national variant such as fi)")
	}
	if d.XRoad.Variant != "vanilla" && !variantName.MatchString(d.XRoad.Variant) {
		return d.keyErr("xroad.variant", "%q is neither vanilla nor a two-letter national variant", d.XRoad.Variant)
	}
	if v := d.XRoad.Version; v != "" && !versionPin.MatchString(v) {
		return d.keyErr("xroad.version", "%q is not a package version (like 7.5.1 or 7.5.1-1)", v)
	}
	for i, p := range d.ExtraPackages {
		if !packageName.MatchString(p) {
			return d.keyErr(fmt.Sprintf("extraPackages[%d]", i), "%q is not a package name", p)
		}
	}
	for i, u := range d.Units.Enable {
		if !unitName.MatchString(u) {
			return d.keyErr(fmt.Sprintf("units.enable[%d]", i), "%q is not a unit name", u)
		}
	}
	if err := d.validateOutputs(); err != nil {
		return err
	}
	if d.Disk.SizeMiB < 0 {
		return d.keyErr("disk.sizeMiB", "%d is negative (0 sizes the disk from the root file system)", d.Disk.SizeMiB)
	}
	for i, a := range d.Disk.KernelArgs {
		if a == "" || strings.ContainsAny(a, " \t\n\"'") {
			return d.keyErr(fmt.Sprintf("disk.kernelArgs[%d]", i), "%q: one argument without blanks or quotes", a)
		}
	}
	if err := d.validateBase(); err != nil {
		return err
	}
	if err := d.validateRepository(); err != nil {
		return err
	}
	if d.SourceDateEpoch <= 0 {
		return d.keyErr("sourceDateEpoch", "missing (seconds since 1970; every timestamp in the image)")
	}
	for i, p := range d.Install.Remove {
		if err := profiles.CheckImagePattern(p); err != nil {
			return d.keyErr(fmt.Sprintf("install.remove[%d]", i), "%w", err)
		}
	}
	return nil
}

func (d *Definition) validateOutputs() error {
	if len(d.Outputs) == 0 {
		return d.keyErr("outputs", "missing (known: %s)", strings.Join(Outputs, ", "))
	}
	for i, o := range d.Outputs {
		if !slices.Contains(Outputs, o) {
			return d.keyErr(fmt.Sprintf("outputs[%d]", i), "unknown output %q (known: %s)", o, strings.Join(Outputs, ", "))
		}
		if slices.Index(d.Outputs, o) != i {
			return d.keyErr(fmt.Sprintf("outputs[%d]", i), "%q is listed twice", o)
		}
	}
	push := d.Wants(OutputRegistry)
	switch {
	case push && d.Registry == "":
		return d.keyErr("registry", "missing; output registry pushes to it")
	case !push && d.Registry != "":
		return d.keyErr("registry", "set, but outputs does not list registry")
	case push:
		if _, err := name.ParseReference(d.Registry, name.StrictValidation); err != nil {
			return d.keyErr("registry", "%w", err)
		}
	}
	return nil
}

func (d *Definition) validateBase() error {
	b := d.Base
	set := 0
	for _, s := range []bool{b.Bootstrap, b.Image != "", b.OCILayout != "", b.Rootfs != ""} {
		if s {
			set++
		}
	}
	if set > 1 {
		return d.keyErr("base", "give one of bootstrap, image, ociLayout and rootfs")
	}
	if b.OCILayoutRef != "" && b.OCILayout == "" {
		return d.keyErr("base.ociLayoutRef", "needs base.ociLayout")
	}
	if b.Image != "" {
		if _, err := name.ParseReference(b.Image); err != nil {
			return d.keyErr("base.image", "%w", err)
		}
	}
	for key, dir := range map[string]string{"base.ociLayout": b.OCILayout, "base.rootfs": b.Rootfs} {
		if dir == "" {
			continue
		}
		if fi, err := os.Stat(dir); err != nil {
			return d.keyErr(key, "%w", err)
		} else if !fi.IsDir() {
			return d.keyErr(key, "%q is not a directory", dir)
		}
	}
	return nil
}

func (d *Definition) validateRepository() error {
	r := d.Repository
	if r == nil {
		return nil
	}
	if (r.Dir == "") == (r.URL == "") {
		return d.keyErr("repository", "give one of dir and url")
	}
	if r.Dir != "" {
		if fi, err := os.Stat(r.Dir); err != nil {
			return d.keyErr("repository.dir", "%w", err)
		} else if !fi.IsDir() {
			return d.keyErr("repository.dir", "%q is not a directory", r.Dir)
		}
	}
	if r.URL != "" && !strings.Contains(r.URL, "://") {
		return d.keyErr("repository.url", "%q is not a URL", r.URL)
	}
	if r.Keyring == "" {
		return d.keyErr("repository.keyring", "missing; the repository's signature is always verified")
	}
	if _, err := os.Stat(r.Keyring); err != nil {
		return d.keyErr("repository.keyring", "%w", err)
	}
	return nil
}

// Wants reports whether the definition asks for output o.
func (d *Definition) Wants(o string) bool { return slices.Contains(d.Outputs, o) }

// WantedDisks lists the disk outputs the definition asks for.
func (d *Definition) WantedDisks() []string {
	var disks []string
	for _, o := range DiskOutputs {
		if d.Wants(o) {
			disks = append(disks, o)
		}
	}
	return disks
}

// Overrides are command-line values that replace keys of the file. Empty
// fields leave the file's value.
type Overrides struct {
	Profile, PostgreSQL string
	XRoadVersion        string
	// Base is bootstrap, image:REF, oci-layout:DIR[@REF] or rootfs:DIR.
	Base    string
	Outputs []string
	// Push adds the registry output with this reference.
	Push string
	// RepoDir or RepoURL replace the X-Road repository.
	RepoDir, RepoURL, RepoKeyring, Suite string
	Offline                              bool
	SourceDateEpoch                      string
	// SourceDateEpochFrom names where SourceDateEpoch came from in errors
	// (default --source-date-epoch).
	SourceDateEpochFrom string
}

// Apply overrides keys with flag values and validates the result again.
func (d *Definition) Apply(o Overrides) error {
	set := func(key, flag string, dst *string, val string) {
		if val != "" {
			*dst = val
			d.markFlag(key, flag)
		}
	}
	set("profile", "--profile", &d.Profile, o.Profile)
	set("postgresql", "--postgresql", &d.PostgreSQL, o.PostgreSQL)
	set("xroad.version", "--xroad-version", &d.XRoad.Version, o.XRoadVersion)
	if len(o.Outputs) > 0 {
		d.Outputs = slices.Clone(o.Outputs)
		d.markFlag("outputs", "--output")
		for i := range d.Outputs {
			d.markFlag(fmt.Sprintf("outputs[%d]", i), "--output")
		}
		if !d.Wants(OutputRegistry) {
			d.Registry = ""
		}
	}
	if o.Push != "" {
		d.Registry = o.Push
		d.markFlag("registry", "--push")
		if !d.Wants(OutputRegistry) {
			d.Outputs = append(d.Outputs, OutputRegistry)
		}
	}
	if o.Base != "" {
		b, err := parseBaseFlag(o.Base)
		if err != nil {
			return fmt.Errorf("flag --base: %w", err)
		}
		d.Base = b
		for _, k := range []string{"base", "base.image", "base.ociLayout", "base.ociLayoutRef", "base.rootfs"} {
			d.markFlag(k, "--base")
		}
	}
	if o.RepoDir != "" || o.RepoURL != "" {
		d.Repository = &Repository{Dir: absOrEmpty(o.RepoDir), URL: o.RepoURL, Keyring: absOrEmpty(o.RepoKeyring), Suite: o.Suite, Offline: o.Offline}
		flag := "--repo"
		if o.RepoURL != "" {
			flag = "--repo-url"
		}
		for _, k := range []string{"repository", "repository.dir", "repository.url"} {
			d.markFlag(k, flag)
		}
		d.markFlag("repository.keyring", "--repo-keyring")
		d.markFlag("repository.suite", "--repo-suite")
	} else if o.RepoKeyring != "" || o.Suite != "" || o.Offline {
		if d.Repository == nil {
			return fmt.Errorf("flags --repo-keyring, --repo-suite and --offline need --repo or --repo-url (or repository in %s)", d.file)
		}
		set("repository.keyring", "--repo-keyring", &d.Repository.Keyring, absOrEmpty(o.RepoKeyring))
		set("repository.suite", "--repo-suite", &d.Repository.Suite, o.Suite)
		d.Repository.Offline = d.Repository.Offline || o.Offline
	}
	if o.SourceDateEpoch != "" {
		from := o.SourceDateEpochFrom
		if from == "" {
			from = "--source-date-epoch"
		}
		v, err := strconv.ParseInt(o.SourceDateEpoch, 10, 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("%s: %q is not a positive number of seconds", from, o.SourceDateEpoch)
		}
		d.SourceDateEpoch = v
		d.markFlag("sourceDateEpoch", from)
	}
	return d.Validate()
}

func absOrEmpty(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// parseBaseFlag reads --base: bootstrap, image:REF, oci-layout:DIR[@REF], rootfs:DIR.
func parseBaseFlag(s string) (Base, error) {
	kind, arg, _ := strings.Cut(s, ":")
	switch {
	case kind == "bootstrap" && arg == "":
		return Base{Bootstrap: true}, nil
	case kind == "image" && arg != "":
		return Base{Image: arg}, nil
	case kind == "oci-layout" && arg != "":
		dir, ref, _ := strings.Cut(arg, "@")
		return Base{OCILayout: absOrEmpty(dir), OCILayoutRef: ref}, nil
	case kind == "rootfs" && arg != "":
		return Base{Rootfs: absOrEmpty(arg)}, nil
	}
	return Base{}, fmt.Errorf("%q: want bootstrap, image:REF, oci-layout:DIR[@REF] or rootfs:DIR", s)
}

func (d *Definition) markFlag(key, flag string) {
	if d.flags == nil {
		d.flags = map[string]string{}
	}
	d.flags[key] = flag
}

// keyErr names the flag that set key, or the file and the key; a %w in
// format wraps the cause.
func (d *Definition) keyErr(key, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if flag, ok := d.flags[key]; ok {
		if !strings.HasPrefix(flag, "$") {
			flag = "flag " + flag
		}
		return fmt.Errorf("%s (key %s): %w", flag, key, err)
	}
	return inputfile.InFile(d.file, &inputfile.KeyError{Key: key, Err: err})
}
