package definition

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"xroad-appliance/profiles"
)

// Resolved is a definition bound to its profile: the facts and the package
// set a build installs.
type Resolved struct {
	*Definition
	Facts *profiles.Facts
	// Packages are installed in the package layer, sorted: the profile's base
	// packages (already there on a bootstrapped base), its PostgreSQL
	// packages, the X-Road package sets, the extra packages, and for disk
	// outputs the kernel and bootloader packages and the asked-for targets'
	// packages.
	Packages []string
	// KernelPackages are the asked-for disk targets' packages named for the
	// kernel ({version} in the name), sorted: installed once the kernel is.
	KernelPackages []string
	// XRoadPackages are the X-Road packages the version pin applies to.
	XRoadPackages []string
	// Version is the X-Road version pin.
	Version string
	// Epoch is SOURCE_DATE_EPOCH: every timestamp in the image.
	Epoch time.Time
	// Remove is the per-install material removed from the package layer,
	// sorted: the profile's install.remove and the definition's.
	Remove []string
}

// variantMetapackages are the X-Road packages that exist per national
// variant (xroad-securityserver-fi); every other package is shared.
var variantMetapackages = []string{"xroad-securityserver", "xroad-centralserver"}

// Resolve loads the profile and computes the package set. Errors name the key.
func (d *Definition) Resolve() (*Resolved, error) {
	p, err := profiles.Load(d.Profile)
	if err != nil {
		return nil, d.keyErr("profile", "%w", err)
	}
	facts, err := p.Resolve(d.PostgreSQL)
	if err != nil {
		return nil, d.keyErr("postgresql", "%w", err)
	}
	r := &Resolved{Definition: d, Facts: facts, Epoch: time.Unix(d.SourceDateEpoch, 0).UTC()}

	var sets []string
	for s := range facts.XRoad.Packages {
		sets = append(sets, s)
	}
	slices.Sort(sets)
	for i, set := range d.XRoad.PackageSets {
		pkgs, ok := facts.XRoad.Packages[set]
		if reason := facts.XRoad.Unavailable[set]; !ok && reason != "" {
			return nil, d.keyErr(fmt.Sprintf("xroad.packageSets[%d]", i), "profile %s cannot have %q: %s", p.Name, set, reason)
		}
		if !ok {
			return nil, d.keyErr(fmt.Sprintf("xroad.packageSets[%d]", i), "profile %s has no package set %q (has: %s)", p.Name, set, strings.Join(sets, ", "))
		}
		for _, pkg := range pkgs {
			if d.XRoad.Variant != "vanilla" && slices.Contains(variantMetapackages, pkg) {
				pkg += "-" + d.XRoad.Variant
			}
			r.XRoadPackages = append(r.XRoadPackages, pkg)
		}
	}
	r.XRoadPackages = sortedUnique(r.XRoadPackages)
	all := slices.Concat(facts.Bootstrap.Include, facts.PG.Packages, r.XRoadPackages, d.ExtraPackages)
	if disks := d.WantedDisks(); len(disks) > 0 {
		if why := facts.Disk.Unavailable; why != "" {
			return nil, d.keyErr("outputs", "profile %s makes no %s disk: %s", p.Name, disks[0], why)
		}
		for _, o := range disks {
			if _, ok := facts.Disk.Targets[o]; !ok {
				return nil, d.keyErr(fmt.Sprintf("outputs[%d]", slices.Index(d.Outputs, o)), "profile %s has no guest facts for %s (disk.targets.%s)", p.Name, o, o)
			}
		}
		// A disk boots the image's own kernel with its own bootloader, and
		// carries what its targets add.
		all = append(all, facts.Disk.Packages...)
		for _, pkg := range facts.Disk.GuestFor(disks).Packages {
			if strings.Contains(pkg, "{version}") {
				r.KernelPackages = append(r.KernelPackages, pkg)
			} else {
				all = append(all, pkg)
			}
		}
		r.KernelPackages = sortedUnique(r.KernelPackages)
	}
	r.Packages = sortedUnique(all)
	r.Remove = sortedUnique(slices.Concat(facts.Install.Remove, d.Install.Remove))

	repo := facts.XRoad.Repository
	r.Version = d.XRoad.Version
	if r.Version == "" {
		r.Version = repo.Version
	}
	// The profile's repository serves one X-Road version (its suite names
	// it); another version needs another repository.
	if d.Repository == nil && r.Version != repo.Version && !strings.HasPrefix(r.Version, repo.Version+"-") {
		return nil, d.keyErr("xroad.version", "%s is not served by profile %s's repository (%s %s serves %s); pin %s or give a repository",
			r.Version, p.Name, repo.URL, repo.Suite, repo.Version, repo.Version)
	}
	return r, nil
}

// Tag is the image's reference in archives and layouts: NAME:VERSION-PROFILE
// (characters a tag cannot hold, such as + and ~, become _).
func (r *Resolved) Tag() string {
	tag := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
			return c
		}
		return '_'
	}, r.Version+"-"+r.Facts.Name)
	return r.Name + ":" + tag
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
