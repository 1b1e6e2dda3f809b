package disk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"xroad-appliance/builder/parallel"
	"xroad-appliance/provisioner/atomicfile"
)

// writeOutputs builds the raw disk and its conversions in a staging
// directory inside outDir (same file system, so renames are atomic) and
// moves the asked-for outputs into outDir once all of them are complete.
// The staging directory goes away in every case.
func writeOutputs(ctx context.Context, rootfsDir, outDir string, opts Options, t *tree, boot *bootFiles, l layout, id ids) (*Result, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	stage, err := os.MkdirTemp(outDir, "."+opts.Name+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	defer os.RemoveAll(stage)
	work := filepath.Join(stage, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}

	raw := filepath.Join(stage, opts.Name+".raw")
	opts.Progress(fmt.Sprintf("disk: raw GPT disk of %d MiB (ESP %d MiB, ext4 root %d MiB for %d MiB of contents)",
		l.DiskSize/mib, l.ESPSize/mib, l.RootSize/mib, l.ContentBytes/mib))
	if err := writeRaw(ctx, raw, rootfsDir, work, opts, t, boot, l, id); err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}

	staged, err := convertAll(ctx, raw, stage, work, opts, l.DiskSize, id)
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}

	res := &Result{
		DiskSize:      l.DiskSize,
		KernelVersion: boot.KernelVersion,
		DiskGUID:      id.Disk,
		ESPPartUUID:   id.ESP,
		RootPartUUID:  id.Root,
		RootFSUUID:    id.RootFS,
	}
	for _, o := range staged {
		final := filepath.Join(outDir, filepath.Base(o.Path))
		if err := os.Rename(o.Path, final); err != nil {
			return nil, fmt.Errorf("disk: %w", err)
		}
		o.Path = final
		res.Outputs = append(res.Outputs, o)
	}
	if err := atomicfile.SyncDir(outDir); err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	return res, nil
}

// writeRaw creates the image file, writes the GPT and the ESP into it and
// then the root file system into its partition.
func writeRaw(ctx context.Context, raw, rootfsDir, work string, opts Options, t *tree, boot *bootFiles, l layout, id ids) error {
	f, err := os.OpenFile(raw, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(l.DiskSize); err != nil {
		return err
	}
	if err := writeGPTAndESP(f, l, id, espFiles(boot, id, opts.KernelArgs), opts.SourceDateEpoch); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	opts.Progress("disk: ext4 root file system")
	dirs, files := rootOverlay(id, opts.Datasources)
	return writeRootFS(ctx, raw, rootfsDir, work, l, id, t, dirs, files, opts.SourceDateEpoch)
}

// convertAll writes every asked-for output from the raw disk and checks
// each. Conversions run side by side (vmdk compression and the GCE
// archive's gzip take a core each, qcow2 and vhd mostly wait on the disk);
// the OVA follows, made of the stream-optimized VMDK. Each output is also
// hashed.
func convertAll(ctx context.Context, raw, stage, work string, opts Options, diskSize int64, id ids) ([]Output, error) {
	path := func(f Format) string { return filepath.Join(stage, FileName(opts.Name, f)) }
	rawOut := Output{Format: Raw, Path: raw}
	// The OVA's disk: the vmdk output when it is stream-optimized, else one
	// of its own in the work directory.
	ovaDisk := ""
	if opts.wants(OVA) {
		ovaDisk = path(VMDK)
		if !opts.wants(VMDK) || opts.VMDKSubformat != VMDKStreamOptimized {
			ovaDisk = filepath.Join(work, opts.Name+"-disk1.vmdk")
		}
	}
	type job struct {
		out Output
		run func() error
	}
	var first []job
	first = append(first, job{rawOut, func() error {
		if err := checkImage(ctx, raw, Raw, diskSize, ""); err != nil {
			return err
		}
		return finish(&rawOut)
	}})
	for _, f := range []Format{QCOW2, VMDK, VHD} {
		if !opts.wants(f) {
			continue
		}
		dst := path(f)
		first = append(first, job{Output{Format: f, Path: dst}, func() error {
			if err := convert(ctx, raw, dst, f, opts.VMDKSubformat, id, opts.SourceDateEpoch); err != nil {
				return err
			}
			return checkImage(ctx, dst, f, diskSize, opts.VMDKSubformat)
		}})
	}
	if ovaDisk != "" && ovaDisk != path(VMDK) {
		first = append(first, job{Output{}, func() error {
			if err := convert(ctx, raw, ovaDisk, VMDK, VMDKStreamOptimized, id, opts.SourceDateEpoch); err != nil {
				return err
			}
			return checkImage(ctx, ovaDisk, VMDK, diskSize, VMDKStreamOptimized)
		}})
	}
	var names []string
	for _, j := range first[1:] {
		if j.out.Format != "" {
			names = append(names, string(j.out.Format))
		}
	}
	if len(names) > 0 {
		// Said here, not in the goroutines: Progress need not be safe for
		// concurrent use.
		opts.Progress("disk: converting to " + strings.Join(names, ", "))
	}
	if err := parallel.Do(len(first), func(i int) error { return first[i].run() }); err != nil {
		return nil, err
	}
	// The GCE archive must hold the disk the raw check hashed.
	var second []job
	if opts.wants(GCE) {
		dst := path(GCE)
		second = append(second, job{Output{Format: GCE, Path: dst}, func() error {
			if err := writeGCE(ctx, raw, dst, work, opts.SourceDateEpoch); err != nil {
				return err
			}
			return checkGCE(dst, diskSize, rawOut.SHA256)
		}})
	}
	if opts.wants(OVA) {
		dst := path(OVA)
		second = append(second, job{Output{Format: OVA, Path: dst}, func() error {
			sum, err := fileSHA256(ovaDisk)
			if err != nil {
				return err
			}
			if err := writeOVA(ovaDisk, dst, opts.Name, diskSize, opts.SourceDateEpoch); err != nil {
				return fmt.Errorf("ova: %w", err)
			}
			return checkOVA(dst, opts.Name, diskSize, sum)
		}})
	}
	if len(second) > 0 {
		var n []string
		for _, j := range second {
			n = append(n, string(j.out.Format))
		}
		opts.Progress("disk: packing " + strings.Join(n, ", "))
		if err := parallel.Do(len(second), func(i int) error { return second[i].run() }); err != nil {
			return nil, err
		}
	}

	var staged []Output
	for _, f := range Formats {
		if !opts.wants(f) {
			continue
		}
		o := Output{Format: f, Path: path(f)}
		if f == Raw {
			o = rawOut
		} else if err := finish(&o); err != nil {
			return nil, err
		}
		staged = append(staged, o)
	}
	return staged, nil
}

// finish flushes a staged output to disk (before the rename makes it
// visible) and records its size and sha256.
func finish(o *Output) error {
	f, err := os.Open(o.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", o.Path, err)
	}
	h := sha256.New()
	// A large buffer, and no WriterTo shortcut with its small one: most of
	// a raw disk is holes, cheap to read and quick to hash in big pieces.
	n, err := io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, mib))
	if err != nil {
		return fmt.Errorf("hash %s: %w", o.Path, err)
	}
	o.Size, o.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	return nil
}
