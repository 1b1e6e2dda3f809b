// Package image assembles the appliance's OCI image from its layers and
// writes it out: an OCI image layout, a docker archive, a registry push. The
// image uses OCI media types throughout, and everything in its config and
// manifest is fixed by the inputs (times come from SOURCE_DATE_EPOCH), so
// the same layers give the same manifest digest.
package image

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Layer is one layer with its history entry.
type Layer struct {
	Layer     v1.Layer
	CreatedBy string
}

// Spec is everything an image is made of.
type Spec struct {
	Layers []Layer
	Epoch  time.Time
	// Labels go into the config (what docker inspect shows); Annotations
	// into the manifest (what registries and OCI tools show).
	Labels, Annotations map[string]string
}

// Assemble builds the image. The config runs systemd as init, as an
// appliance root file system booted as a container would.
func Assemble(s Spec) (v1.Image, error) {
	created := v1.Time{Time: s.Epoch.UTC()}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg := &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      created,
		Config: v1.Config{
			Cmd:        []string{"/sbin/init"},
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=oci"},
			StopSignal: "SIGRTMIN+3",
			Labels:     maps.Clone(s.Labels),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	img, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	adds := make([]mutate.Addendum, 0, len(s.Layers))
	for _, l := range s.Layers {
		adds = append(adds, mutate.Addendum{
			Layer:     l.Layer,
			MediaType: types.OCILayer,
			History:   v1.History{Created: created, CreatedBy: l.CreatedBy},
		})
	}
	if img, err = mutate.Append(img, adds...); err != nil {
		return nil, err
	}
	if len(s.Annotations) > 0 {
		a, ok := mutate.Annotations(img, s.Annotations).(v1.Image)
		if !ok {
			return nil, fmt.Errorf("annotating the image")
		}
		img = a
	}
	return img, nil
}

// RefNameAnnotation names an image in an OCI layout's index.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes img as the only image of a new OCI layout at dir,
// named tag.
func WriteLayout(dir string, img v1.Image, tag string) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{RefNameAnnotation: tag})); err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return nil
}

// WriteDockerArchive writes img to w as a `docker load` archive tagged tag.
func WriteDockerArchive(w io.Writer, img v1.Image, tag string) error {
	t, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("docker archive: tag %q: %w", tag, err)
	}
	if err := tarball.Write(t, img, w); err != nil {
		return fmt.Errorf("docker archive: %w", err)
	}
	return nil
}

// Push uploads img to ref with the default keychain (docker config,
// credential helpers) and returns the pushed image's digest reference.
func Push(ctx context.Context, ref string, img v1.Image) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", pushError(ref, r.Context().RegistryStr(), err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return r.Context().Digest(d.String()).String(), nil
}

// pushError says what to fix for the failures a first push meets: refused
// credentials and an untrusted certificate. Credentials never reach the
// message: the keychain's values are not in the registry's answer.
func pushError(ref, registry string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("push %s: registry %s refused the credentials (HTTP %d): the default keychain reads $DOCKER_CONFIG/config.json (else ~/.docker/config.json) and its credential helpers; log in with `docker login %s` or fix the entry for %s: %w",
			ref, registry, te.StatusCode, registry, registry, err)
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return fmt.Errorf("push %s: the certificate of registry %s is signed by an unknown authority: add its CA to the system's trust store or name it in SSL_CERT_FILE: %w", ref, registry, err)
	}
	return fmt.Errorf("push %s: %w", ref, err)
}
