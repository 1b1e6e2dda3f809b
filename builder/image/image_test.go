package image

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"xroad-appliance/builder/layer"
)

func blob(t *testing.T, content string) v1.Layer {
	t.Helper()
	b, err := layer.WriteBlob(t.TempDir(), func(w io.Writer) error {
		_, err := io.WriteString(w, content)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAssembleIsFixedByItsInputs(t *testing.T) {
	epoch := time.Unix(1704067200, 0).UTC()
	spec := func() Spec {
		return Spec{
			Layers:      []Layer{{blob(t, "base"), "base"}, {blob(t, "packages"), "packages"}},
			Epoch:       epoch,
			Labels:      map[string]string{"b": "2", "a": "1"},
			Annotations: map[string]string{"io.example.packages": "a 1 all\n"},
		}
	}
	a, err := Assemble(spec())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Assemble(spec())
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("same inputs, digests %s and %s", da, db)
	}
	m, _ := a.Manifest()
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON || m.Annotations["io.example.packages"] == "" {
		t.Errorf("manifest %+v", m)
	}
	cfg, _ := a.ConfigFile()
	if !cfg.Created.Time.Equal(epoch) || len(cfg.History) != 2 || !cfg.History[1].Created.Time.Equal(epoch) || cfg.Config.Labels["a"] != "1" {
		t.Errorf("config %+v", cfg)
	}

	dir := filepath.Join(t.TempDir(), "layout")
	if err := WriteLayout(dir, a, "x:1"); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != da || im.Manifests[0].Annotations[RefNameAnnotation] != "x:1" {
		t.Errorf("layout index %+v", im)
	}
	var archive bytes.Buffer
	if err := WriteDockerArchive(&archive, a, "x:1"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "a.tar")
	os.WriteFile(path, archive.Bytes(), 0o644)
	loaded, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c1, _ := loaded.ConfigName(); c1.String() != m.Config.Digest.String() {
		t.Errorf("docker archive config %s, want %s", c1, m.Config.Digest)
	}
}
