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

	"xroad-appliance/builder/base"
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

// assemble makes the image from the three layers, with labels naming its
// version, profile and sources.
func assemble(d *definition.Resolved, b *base.Base, repo *packages.Repo, pkgs *packages.Layer, blobs []namedBlob, version string) (v1.Image, error) {
	labels := map[string]string{
		"org.opencontainers.image.title":   d.Name,
		"org.opencontainers.image.version": d.Version,
		"org.opencontainers.image.created": d.Epoch.UTC().Format(time.RFC3339),
		LabelProfile:                       d.Facts.Name,
		LabelPostgreSQL:                    d.Facts.PostgreSQLVersion,
		LabelVariant:                       d.XRoad.Variant,
		LabelRepository:                    repo.Label(),
		LabelBase:                          b.Describe,
		LabelBuilder:                       version,
	}
	if d.Source != "" {
		labels["org.opencontainers.image.source"] = d.Source
	}
	annotations := map[string]string{AnnotPackages: packages.ManifestText(pkgs.Manifest)}
	for k, v := range labels {
		annotations[k] = v
	}
	spec := image.Spec{Epoch: d.Epoch, Labels: labels, Annotations: annotations}
	for _, nb := range blobs {
		spec.Layers = append(spec.Layers, image.Layer{Layer: nb.blob, CreatedBy: nb.createdBy})
	}
	return image.Assemble(spec)
}

// writeOutputs writes every output the definition asks for into stageDir;
// paths in the result are where they will be once stageDir becomes out.
// The files are written at once (the rootfs tar reads the disk while the
// archives mostly copy blobs), then the disks; the push comes last, when
// everything else succeeded.
func writeOutputs(ctx context.Context, d *definition.Resolved, img v1.Image, manifest []packages.Package, rootView, stageDir, out string, res *Result, p progress.Func) error {
	type job struct {
		kind, name string
		write      func(w io.Writer) error // a file; nil for the layout directory
	}
	var jobs []job
	if d.Wants(definition.OutputOCILayout) {
		jobs = append(jobs, job{kind: definition.OutputOCILayout, name: LayoutDir})
	}
	if d.Wants(definition.OutputDockerArchive) {
		jobs = append(jobs, job{definition.OutputDockerArchive, DockerArchive, func(w io.Writer) error {
			return image.WriteDockerArchive(w, img, d.Tag())
		}})
	}
	if d.Wants(definition.OutputRootfsTar) {
		jobs = append(jobs, job{definition.OutputRootfsTar, RootfsTar, func(w io.Writer) error {
			cw := p.Count(w, "rootfs tar", 10*time.Second)
			defer cw.Stop()
			return layer.WriteTar(ctx, cw, rootView, layer.Options{Epoch: d.Epoch})
		}})
	}
	if d.Wants(definition.OutputPackageManifest) {
		jobs = append(jobs, job{definition.OutputPackageManifest, ManifestFile, func(w io.Writer) error {
			_, err := io.WriteString(w, packages.ManifestText(manifest))
			return err
		}})
	}
	outputs := make([]Output, len(jobs))
	err := parallel.Do(len(jobs), func(i int) error {
		j := jobs[i]
		done := p.Step("output %s", j.kind)
		o := Output{Kind: j.kind, Path: filepath.Join(out, j.name)}
		var err error
		if j.write == nil {
			o.Ref = d.Tag()
			err = image.WriteLayout(filepath.Join(stageDir, j.name), img, d.Tag())
		} else {
			o.SHA256, o.Size, err = writeHashed(filepath.Join(stageDir, j.name), j.write)
		}
		done(err)
		outputs[i] = o
		if err != nil {
			return fmt.Errorf("output %s: %w", j.kind, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.Outputs = append(res.Outputs, outputs...)
	if err := writeDisks(ctx, d, rootView, stageDir, out, res, p); err != nil {
		return err
	}
	if d.Wants(definition.OutputRegistry) {
		done := p.Step("output registry %s", d.Registry)
		ref, err := image.Push(ctx, d.Registry, img)
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
