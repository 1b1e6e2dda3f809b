package bake

import (
	"path"
	"slices"
	"time"

	"xroad-appliance/builder/base"
	"xroad-appliance/builder/definition"
	"xroad-appliance/builder/disk"
	"xroad-appliance/builder/packages"
	"xroad-appliance/builder/secretscan"
	"xroad-appliance/profiles"
)

// inputs are what each stage of a build is given, taken from the resolved
// definition once: no stage reads the definition itself.
type inputs struct {
	base      base.Spec
	repo      repoInput
	packages  packages.Spec // without the base and the repository, which are found first
	blobs     blobsInput
	appliance applianceInput
	image     imageInput
	scan      secretscan.Options
	outputs   outputsInput
	result    Result // what the result says of the definition
}

// repoInput is where the X-Road packages come from.
type repoInput struct {
	profile  profiles.Repository
	version  string
	override *packages.Override
}

// blobsInput is what the lower layers' blobs are made with.
type blobsInput struct {
	epoch time.Time
	// xroadPackages name the package layer in the image's history.
	xroadPackages []string
}

// applianceInput is what the appliance layer holds: the profile's facts
// (units, baked facts), the units to enable besides the preset's, and the
// epoch of its files. file names the definition in errors about units.
type applianceInput struct {
	facts  *profiles.Facts
	enable []string
	epoch  time.Time
	file   string
}

// imageInput is what the image's config says about it.
type imageInput struct {
	name, version, source string
	profile, postgreSQL   string
	variant, builder      string
	epoch                 time.Time
}

// outputsInput is what the outputs are and how they are written.
type outputsInput struct {
	files    []string // the file outputs asked for, in Outputs order
	tag      string
	epoch    time.Time
	registry string // "" for no push
	disk     *disk.Options
}

func inputsOf(d *definition.Resolved, builder string) *inputs {
	f := d.Facts
	in := &inputs{
		base: base.Spec{Source: baseSource(d.Base), Profile: f.Name, Bootstrap: f.Bootstrap,
			Remove: d.Remove, Empty: f.Install.Empty},
		repo: repoInput{profile: f.XRoad.Repository, version: d.Version, override: override(d.Repository)},
		packages: packages.Spec{Facts: f, Packages: d.Packages, XRoadPackages: d.XRoadPackages,
			KernelPackages: d.KernelPackages, Version: d.Version, Remove: d.Remove},
		blobs:     blobsInput{epoch: d.Epoch, xroadPackages: d.XRoadPackages},
		appliance: applianceInput{facts: f, enable: d.Units.Enable, epoch: d.Epoch, file: d.File()},
		image: imageInput{name: d.Name, version: d.Version, source: d.Source, profile: f.Name,
			postgreSQL: f.PostgreSQLVersion, variant: d.XRoad.Variant, builder: builder, epoch: d.Epoch},
		scan:    secretscan.Options{PerInstall: d.Remove, Empty: f.Install.Empty},
		outputs: outputsInput{tag: d.Tag(), epoch: d.Epoch, disk: diskOptions(d)},
		result: Result{Image: d.Tag(), Profile: f.Name, PostgreSQL: f.PostgreSQLVersion, XRoadVersion: d.Version,
			SourceDateEpoch: d.Epoch.Unix()},
	}
	for _, o := range fileOutputs {
		if d.Wants(o) {
			in.outputs.files = append(in.outputs.files, o)
		}
	}
	if d.Wants(definition.OutputRegistry) {
		in.outputs.registry = d.Registry
	}
	return in
}

// packagesOn is the package layer's input on base b from repo.
func (in *inputs) packagesOn(b *base.Base, repo *packages.Repo) *packages.Spec {
	s := in.packages
	s.Repo, s.BaseRootfs, s.BaseKey = repo, b.Rootfs, b.Key
	return &s
}

// baseSource is the definition's base source; bootstrap when none is given.
func baseSource(b definition.Base) base.Source {
	switch {
	case b.Image != "":
		return base.Source{Kind: base.KindImage, Ref: b.Image}
	case b.OCILayout != "":
		return base.Source{Kind: base.KindOCILayout, Dir: b.OCILayout, Ref: b.OCILayoutRef}
	case b.Rootfs != "":
		return base.Source{Kind: base.KindRootfs, Dir: b.Rootfs}
	}
	return base.Source{Kind: base.KindBootstrap}
}

// override is the definition's repository override, if any.
func override(r *definition.Repository) *packages.Override {
	if r == nil {
		return nil
	}
	return &packages.Override{Dir: r.Dir, URL: r.URL, Keyring: r.Keyring, Suite: r.Suite,
		Components: r.Components, Offline: r.Offline}
}

// diskOptions are the disk writer's options for the disk outputs the
// definition asks for; nil when it asks for none. The guest carries what
// every asked-for target needs: the union of their drivers and datasources,
// their kernel arguments and then the definition's.
func diskOptions(d *definition.Resolved) *disk.Options {
	wanted := d.WantedDisks()
	if len(wanted) == 0 {
		return nil
	}
	guest := d.Facts.Disk.GuestFor(wanted)
	opts := &disk.Options{
		Name:            path.Base(d.Name),
		Size:            disk.Size{Fixed: d.Disk.SizeMiB << 20},
		SourceDateEpoch: d.Epoch.Unix(),
		KernelArgs:      slices.Concat(guest.KernelArgs, d.Disk.KernelArgs),
		Drivers:         guest.Drivers,
		Datasources:     guest.Datasources,
		Boot: disk.Boot{Kernel: d.Facts.Disk.Kernel, Initrd: d.Facts.Disk.Initrd,
			Bootloader: d.Facts.Disk.Bootloader, Packages: d.Facts.Disk.Packages},
	}
	for _, f := range wanted {
		opts.Formats = append(opts.Formats, disk.Format(f))
	}
	return opts
}
