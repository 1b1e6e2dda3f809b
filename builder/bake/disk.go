package bake

import (
	"context"
	"path/filepath"

	"xroad-appliance/builder/disk"
	"xroad-appliance/builder/progress"
)

// writeDisks writes the disk outputs opts asks for (none when nil) from the
// merged root (read-only) into stageDir, as NAME.raw, NAME.qcow2 and so on.
func writeDisks(ctx context.Context, opts *disk.Options, rootView, stageDir, out string, res *Result, p progress.Func) error {
	if opts == nil {
		return nil
	}
	o := *opts
	o.Progress = func(line string) { p.Printf("%s", line) }
	done := p.Step("output disks %v", o.Formats)
	r, err := disk.Write(ctx, rootView, stageDir, o)
	done(err)
	if err != nil {
		return err
	}
	for _, o := range r.Outputs {
		res.Outputs = append(res.Outputs, Output{Kind: string(o.Format), Path: filepath.Join(out, filepath.Base(o.Path)), SHA256: "sha256:" + o.SHA256, Size: o.Size})
	}
	return nil
}
