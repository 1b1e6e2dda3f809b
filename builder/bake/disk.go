package bake

import (
	"context"
	"path"
	"path/filepath"
	"slices"

	"xroad-appliance/builder/definition"
	"xroad-appliance/builder/disk"
	"xroad-appliance/builder/progress"
)

// writeDisks writes the disk outputs the definition asks for from the
// merged root (read-only) into stageDir, as NAME.raw, NAME.qcow2 and so on.
func writeDisks(ctx context.Context, d *definition.Resolved, rootView, stageDir, out string, res *Result, p progress.Func) error {
	wanted := d.WantedDisks()
	if len(wanted) == 0 {
		return nil
	}
	// The guest carries what every asked-for target needs: the union of
	// their drivers and datasources, their kernel arguments and then the
	// definition's.
	guest := d.Facts.Disk.GuestFor(wanted)
	opts := disk.Options{
		Name:            path.Base(d.Name),
		Size:            disk.Size{Fixed: d.Disk.SizeMiB << 20},
		SourceDateEpoch: d.Epoch.Unix(),
		KernelArgs:      slices.Concat(guest.KernelArgs, d.Disk.KernelArgs),
		Drivers:         guest.Drivers,
		Datasources:     guest.Datasources,
		Boot: disk.Boot{Kernel: d.Facts.Disk.Kernel, Initrd: d.Facts.Disk.Initrd,
			Bootloader: d.Facts.Disk.Bootloader, Packages: d.Facts.Disk.Packages},
		Progress: func(line string) { p.Printf("%s", line) },
	}
	for _, f := range wanted {
		opts.Formats = append(opts.Formats, disk.Format(f))
	}
	done := p.Step("output disks %v", wanted)
	r, err := disk.Write(ctx, rootView, stageDir, opts)
	done(err)
	if err != nil {
		return err
	}
	for _, o := range r.Outputs {
		res.Outputs = append(res.Outputs, Output{Kind: string(o.Format), Path: filepath.Join(out, filepath.Base(o.Path)), SHA256: "sha256:" + o.SHA256, Size: o.Size})
	}
	return nil
}
