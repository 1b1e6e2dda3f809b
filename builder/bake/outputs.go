package bake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"xroad-appliance/builder/definition"
	"xroad-appliance/builder/image"
	"xroad-appliance/builder/layer"
	"xroad-appliance/builder/packages"
	"xroad-appliance/builder/parallel"
	"xroad-appliance/builder/progress"
)

// Names of the outputs in the output directory.
const (
	LayoutDir     = "oci"
	DockerArchive = "docker-archive.tar"
	RootfsTar     = "rootfs.tar"
	ManifestFile  = "packages.txt"
	SummaryFile   = "build.json"
)

// Label and annotation keys. The package manifest is an annotation only:
// labels are for short facts.
const (
	LabelProfile    = "io.xroad-appliance.profile"
	LabelPostgreSQL = "io.xroad-appliance.postgresql"
	LabelVariant    = "io.xroad-appliance.xroad.variant"
	LabelRepository = "io.xroad-appliance.xroad.repository"
	LabelBase       = "io.xroad-appliance.base"
	LabelBuilder    = "io.xroad-appliance.builder"
	AnnotPackages   = "io.xroad-appliance.packages"
)

// fileOutputs are the outputs written as files (the layout a directory),
// in the order the result lists them.
var fileOutputs = []string{definition.OutputOCILayout, definition.OutputDockerArchive, definition.OutputRootfsTar, definition.OutputPackageManifest}

// assemble makes the image from the three layers, with labels naming its
// version, profile and sources.
func assemble(in imageInput, low *lower, blobs []namedBlob) (v1.Image, error) {
	labels := map[string]string{
		"org.opencontainers.image.title":   in.name,
		"org.opencontainers.image.version": in.version,
		"org.opencontainers.image.created": in.epoch.UTC().Format(time.RFC3339),
		LabelProfile:                       in.profile,
		LabelPostgreSQL:                    in.postgreSQL,
		LabelVariant:                       in.variant,
		LabelRepository:                    low.repo.Label(),
		LabelBase:                          low.base.Describe,
		LabelBuilder:                       in.builder,
	}
	if in.source != "" {
		labels["org.opencontainers.image.source"] = in.source
	}
	annotations := map[string]string{AnnotPackages: packages.ManifestText(low.packages.Manifest)}
	for k, v := range labels {
		annotations[k] = v
	}
	spec := image.Spec{Epoch: in.epoch, Labels: labels, Annotations: annotations}
	for _, nb := range blobs {
		spec.Layers = append(spec.Layers, image.Layer{Layer: nb.blob, CreatedBy: nb.createdBy})
	}
	return image.Assemble(spec)
}

// writeOutputs writes every output in into stageDir; paths in the result
// are where they will be once stageDir becomes out. The files are written
// at once (the rootfs tar reads the disk while the archives mostly copy
// blobs), then the disks; the push comes last, when everything else
// succeeded.
func writeOutputs(ctx context.Context, in outputsInput, img v1.Image, manifest []packages.Package, rootView, stageDir, out string, res *Result, p progress.Func) error {
	writers := map[string]func(w io.Writer) error{
		definition.OutputDockerArchive: func(w io.Writer) error {
			return image.WriteDockerArchive(w, img, in.tag)
		},
		definition.OutputRootfsTar: func(w io.Writer) error {
			cw := p.Count(w, "rootfs tar", 10*time.Second)
			defer cw.Stop()
			return layer.WriteTar(ctx, cw, rootView, layer.Options{Epoch: in.epoch})
		},
		definition.OutputPackageManifest: func(w io.Writer) error {
			_, err := io.WriteString(w, packages.ManifestText(manifest))
			return err
		},
	}
	names := map[string]string{definition.OutputOCILayout: LayoutDir, definition.OutputDockerArchive: DockerArchive,
		definition.OutputRootfsTar: RootfsTar, definition.OutputPackageManifest: ManifestFile}
	outputs := make([]Output, len(in.files))
	err := parallel.Do(len(in.files), func(i int) error {
		kind := in.files[i]
		name, write := names[kind], writers[kind] // no writer: the layout directory
		done := p.Step("output %s", kind)
		o := Output{Kind: kind, Path: filepath.Join(out, name)}
		var err error
		if write == nil {
			o.Ref = in.tag
			err = image.WriteLayout(filepath.Join(stageDir, name), img, in.tag)
		} else {
			o.SHA256, o.Size, err = writeHashed(filepath.Join(stageDir, name), write)
		}
		done(err)
		outputs[i] = o
		if err != nil {
			return fmt.Errorf("output %s: %w", kind, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.Outputs = append(res.Outputs, outputs...)
	if err := writeDisks(ctx, in.disk, rootView, stageDir, out, res, p); err != nil {
		return err
	}
	if in.registry != "" {
		done := p.Step("output registry %s", in.registry)
		ref, err := image.Push(ctx, in.registry, img)
		done(err)
		if err != nil {
			return err
		}
		res.Outputs = append(res.Outputs, Output{Kind: definition.OutputRegistry, Ref: ref})
	}
	return nil
}

// writeHashed writes a new file and returns its sha256 and size.
func writeHashed(path string, write func(w io.Writer) error) (string, int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n := &countWriter{w: io.MultiWriter(f, h)}
	if err := write(n); err != nil {
		return "", 0, err
	}
	if err := f.Close(); err != nil {
		return "", 0, err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeSummary(path string, res *Result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("build summary: %w", err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
