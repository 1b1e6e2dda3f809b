package disk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

	staged := make([]Output, 0, len(opts.Formats))
	var converted []string
	for _, f := range Formats {
		if opts.wants(f) {
			staged = append(staged, Output{Format: f, Path: filepath.Join(stage, opts.Name+"."+string(f))})
			if f != Raw {
				converted = append(converted, string(f))
			}
		}
	}
	if len(converted) > 0 {
		// Said here, not in the goroutines: Progress need not be safe for
		// concurrent use.
		opts.Progress("disk: converting to " + strings.Join(converted, ", "))
	}
	// Conversions run side by side: vmdk compression takes one core,
	// qcow2 and vhd mostly wait on the disk. Each also hashes its output.
	errs := make([]error, len(staged))
	var wg sync.WaitGroup
	for i := range staged {
		wg.Add(1)
		go func(o *Output) {
			defer wg.Done()
			if o.Format != Raw {
				if err := convert(ctx, raw, o.Path, o.Format, opts.VMDKSubformat, id, opts.SourceDateEpoch); err != nil {
					errs[i] = err
					return
				}
			}
			errs[i] = finish(o)
		}(&staged[i])
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
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
	dirs, files := rootOverlay(id)
	return writeRootFS(ctx, raw, rootfsDir, work, l, id, t, dirs, files, opts.SourceDateEpoch)
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
