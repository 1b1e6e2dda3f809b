// Package disk writes the disk outputs of an image from its root file
// system directory: a raw GPT disk that boots under UEFI, and what each
// cloud imports made of it: qcow2, vmdk, vhd (Azure's fixed VHD), the GCE
// image archive and an OVA. Every file is checked after it is written.
//
// The raw disk has two partitions. The EFI system partition is FAT32,
// written with go-diskfs, and holds systemd-boot as the removable-media
// loader (EFI/BOOT/BOOTX64.EFI), one loader entry, and the kernel and
// initrd, all taken from the rootfs (packages linux-image-*,
// initramfs-tools, systemd-boot). The root partition is ext4, made by
// mkfs.ext4 -d directly inside the partition's byte range of the image and
// then amended with debugfs: /etc/fstab for this disk, the /boot/efi mount
// point and normalised timestamps. The rootfs directory is only read.
//
// The same inputs give the same raw bytes: identifiers are derived from the
// image name, the source date and the rootfs metadata; every timestamp is
// the source date (mtimes clamped to it); and tool versions are part of the
// inputs (e2fsprogs, qemu-img, go-diskfs). qcow2 is reproducible as
// qemu-img writes it; the random VMDK content ID and the VHD creation time
// and unique ID are stamped afterwards so that those are too.
//
// Outputs are written into a hidden staging directory inside outDir and
// renamed into place only when all of them are complete.
package disk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Format is a disk output format.
type Format string

const (
	Raw   Format = "raw"
	QCOW2 Format = "qcow2"
	VMDK  Format = "vmdk"
	VHD   Format = "vhd"
	// GCE is Compute Engine's image archive, NAME.gce.tar.gz.
	GCE Format = "gce"
	// OVA is vSphere's appliance archive, NAME.ova.
	OVA Format = "ova"
)

// Formats lists every format in the order Write produces them.
var Formats = []Format{Raw, QCOW2, VMDK, VHD, GCE, OVA}

// FileName is the name of format f's output for an image named name.
func FileName(name string, f Format) string {
	if f == GCE {
		return name + ".gce.tar.gz"
	}
	return name + "." + string(f)
}

// VMDK subformats Options.VMDKSubformat may name.
const (
	VMDKStreamOptimized  = "streamOptimized"
	VMDKMonolithicSparse = "monolithicSparse"
)

// Options say what Write produces.
type Options struct {
	// Formats to write; the raw disk is made in any case and kept only
	// when asked for.
	Formats []Format
	// Name is the base name of the outputs: <Name>.raw, <Name>.qcow2, ...
	Name string
	// Size of the disk.
	Size Size
	// SourceDateEpoch (seconds) is every timestamp on the disk and part of
	// the identifiers. FAT dates limit it to 1980..2107.
	SourceDateEpoch int64
	// KernelArgs are appended to the kernel command line (the profile's
	// for the disk's targets, the serial console among them, then the
	// image definition's).
	KernelArgs []string
	// Drivers must be in the initrd or built into the kernel; Write fails
	// naming those that are not.
	Drivers []string
	// Datasources, if any, become cloud-init's datasource_list on the disk
	// (None added last), in /etc/cloud/cloud.cfg.d/.
	Datasources []string
	// Boot is where the image keeps its kernel, initrd and boot loader.
	Boot Boot
	// VMDKSubformat is VMDKStreamOptimized (default) or VMDKMonolithicSparse.
	VMDKSubformat string
	// Progress, if set, receives a line at the start of each long step.
	Progress func(string)
}

// Size is the disk size policy: Fixed, or computed from the rootfs.
type Size struct {
	// Fixed is the whole disk in bytes, a multiple of 1 MiB; 0 computes the
	// size from the rootfs.
	Fixed int64
	// Headroom is the free space a computed root file system keeps;
	// 0 means DefaultHeadroom.
	Headroom int64
}

// Result describes what Write wrote.
type Result struct {
	Outputs       []Output `json:"outputs"`
	DiskSize      int64    `json:"disk_size"`      // virtual size in bytes
	KernelVersion string   `json:"kernel_version"` // the kernel the disk boots
	DiskGUID      string   `json:"disk_guid"`
	ESPPartUUID   string   `json:"esp_partuuid"`
	RootPartUUID  string   `json:"root_partuuid"` // the kernel's root=PARTUUID=
	RootFSUUID    string   `json:"root_fs_uuid"`
}

// Output is one written file.
type Output struct {
	Format Format `json:"format"`
	Path   string `json:"path"`
	Size   int64  `json:"size"` // file size in bytes
	SHA256 string `json:"sha256"`
}

// Output returns the output of format f, or nil.
func (r *Result) Output(f Format) *Output {
	for i := range r.Outputs {
		if r.Outputs[i].Format == f {
			return &r.Outputs[i]
		}
	}
	return nil
}

// FAT timestamps run from 1980 to 2107.
const (
	minSourceDateEpoch = 315532800  // 1980-01-01T00:00:00Z
	maxSourceDateEpoch = 4354819199 // 2107-12-31T23:59:59Z
)

// check validates o and fills in defaults.
func (o Options) check() (Options, error) {
	if o.Name == "" || strings.ContainsAny(o.Name, "/?\x00\n") || strings.HasPrefix(o.Name, ".") {
		return o, fmt.Errorf("disk: image name %q: want a plain file name", o.Name)
	}
	if len(o.Formats) == 0 {
		return o, fmt.Errorf("disk: no output formats")
	}
	for i, f := range o.Formats {
		if !slices.Contains(Formats, f) {
			return o, fmt.Errorf("disk: unknown format %q (want one of %v)", f, Formats)
		}
		if slices.Contains(o.Formats[:i], f) {
			return o, fmt.Errorf("disk: format %q asked for twice", f)
		}
	}
	if o.SourceDateEpoch < minSourceDateEpoch || o.SourceDateEpoch > maxSourceDateEpoch {
		return o, fmt.Errorf("disk: SourceDateEpoch %d is outside 1980..2107, the range of FAT timestamps", o.SourceDateEpoch)
	}
	switch o.VMDKSubformat {
	case "":
		o.VMDKSubformat = VMDKStreamOptimized
	case VMDKStreamOptimized, VMDKMonolithicSparse:
	default:
		return o, fmt.Errorf("disk: VMDK subformat %q: want %s or %s", o.VMDKSubformat, VMDKStreamOptimized, VMDKMonolithicSparse)
	}
	if err := checkKernelArgs(o.KernelArgs); err != nil {
		return o, err
	}
	for _, list := range [][]string{o.Drivers, o.Datasources} {
		for _, v := range list {
			if v == "" || strings.ContainsAny(v, " \t\n\r\"',[]{}:#") {
				return o, fmt.Errorf("disk: driver or datasource %q: want one plain word", v)
			}
		}
	}
	if err := o.Boot.check(); err != nil {
		return o, err
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return o, nil
}

func (o Options) wants(f Format) bool { return slices.Contains(o.Formats, f) }

// Write writes the disk outputs of the rootfs directory rootfsDir into
// outDir (created if missing). See the package comment for what it does.
func Write(ctx context.Context, rootfsDir, outDir string, opts Options) (*Result, error) {
	opts, err := opts.check()
	if err != nil {
		return nil, err
	}
	// The walk and mkfs.ext4 must see the same tree, also when the path
	// given is a link.
	if rootfsDir, err = filepath.EvalSymlinks(rootfsDir); err != nil {
		return nil, fmt.Errorf("disk: rootfs: %w", err)
	}
	if fi, err := os.Stat(rootfsDir); err != nil {
		return nil, fmt.Errorf("disk: rootfs: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("disk: rootfs %s is not a directory", rootfsDir)
	}
	// debugfs takes the image as "path?offset=N".
	if strings.Contains(outDir, "?") {
		return nil, fmt.Errorf("disk: output directory %q: a '?' in the path is not supported", outDir)
	}
	boot, err := findBootFiles(rootfsDir, opts.Boot)
	if err != nil {
		return nil, err
	}
	found, err := checkDrivers(rootfsDir, boot, opts.Drivers)
	if err != nil {
		return nil, err
	}
	if found != "" {
		opts.Progress(found)
	}
	if len(opts.Datasources) > 0 {
		if fi, err := os.Stat(filepath.Join(rootfsDir, cloudCfgDir)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("disk: the rootfs has no %s for the datasource list %v: is cloud-init installed?", cloudCfgDir, opts.Datasources)
		}
		if err := checkDatasourceOverride(rootfsDir); err != nil {
			return nil, err
		}
	}
	// qemu-img also checks the raw disk; GNU tar writes the sparse GCE tar.
	need := []string{"mkfs.ext4", "debugfs", "qemu-img"}
	if opts.wants(GCE) {
		need = append(need, "tar")
	}
	if err := needTools(need...); err != nil {
		return nil, err
	}
	opts.Progress("disk: scanning " + rootfsDir)
	t, err := scanTree(rootfsDir)
	if err != nil {
		return nil, err
	}
	bootBytes, err := boot.size()
	if err != nil {
		return nil, err
	}
	l, err := planLayout(t, bootBytes, opts.Size)
	if err != nil {
		return nil, err
	}
	// The layout keeps the size a whole number of MiB, as Azure wants.
	if opts.wants(VHD) && l.DiskSize > maxVHDSize {
		return nil, fmt.Errorf("disk: %d MiB is above the 1023 GiB Azure takes for a VHD: set a smaller disk or leave vhd out", l.DiskSize/mib)
	}
	id := deriveIDs(opts.Name, opts.SourceDateEpoch, t.fingerprint, l.DiskSize)
	return writeOutputs(ctx, rootfsDir, outDir, opts, t, boot, l, id)
}
