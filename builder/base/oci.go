package base

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"xroad-appliance/builder/layer"
)

// platform is the image platform a base must have: the build host's, since
// the package layer runs the base's programs in a chroot.
func platform() v1.Platform { return v1.Platform{OS: "linux", Architecture: runtime.GOARCH} }

// registryImage is a base pulled from a registry with the default keychain
// (docker config, credential helpers).
type registryImage struct {
	ref string
	img v1.Image
}

func (r *registryImage) key(ctx context.Context) (string, string, error) {
	ref, err := name.ParseReference(r.ref)
	if err != nil {
		return "", "", err
	}
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithPlatform(platform()),
		remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return "", "", fmt.Errorf("pull %s: %w", r.ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", "", fmt.Errorf("pull %s: %w", r.ref, err)
	}
	r.img = img
	return "image " + digest.String(), ref.Context().Name() + "@" + digest.String(), nil
}

func (r *registryImage) fill(ctx context.Context, root, _ string) error {
	return extract(ctx, r.img, root)
}

// ociLayout is a base read from an OCI image layout directory.
type ociLayout struct {
	dir, ref string
	img      v1.Image
}

// refName is the annotation that names an image in a layout's index.
const refName = "org.opencontainers.image.ref.name"

func (l *ociLayout) key(context.Context) (string, string, error) {
	idx, err := layout.ImageIndexFromPath(l.dir)
	if err != nil {
		return "", "", fmt.Errorf("OCI layout %s: %w", l.dir, err)
	}
	img, err := pickImage(idx, l.ref)
	if err != nil {
		return "", "", fmt.Errorf("OCI layout %s: %w", l.dir, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", "", err
	}
	l.img = img
	return "image " + digest.String(), strings.TrimSpace("oci-layout "+l.ref) + "@" + digest.String(), nil
}

func (l *ociLayout) fill(ctx context.Context, root, _ string) error {
	return extract(ctx, l.img, root)
}

// pickImage finds the image named ref (or the only one) in an index, going
// into nested indexes for the build host's platform.
func pickImage(idx v1.ImageIndex, ref string) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var picked []v1.Descriptor
	var names []string
	for _, d := range im.Manifests {
		n := d.Annotations[refName]
		names = append(names, n)
		if ref == "" || n == ref {
			picked = append(picked, d)
		}
	}
	switch {
	case len(picked) == 0:
		return nil, fmt.Errorf("no image named %q (names: %s)", ref, strings.Join(names, ", "))
	case len(picked) > 1:
		return nil, fmt.Errorf("%d images and no name given (names: %s)", len(picked), strings.Join(names, ", "))
	}
	d := picked[0]
	if d.MediaType.IsIndex() {
		inner, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		return pickPlatform(inner)
	}
	return idx.Image(d.Digest)
}

func pickPlatform(idx v1.ImageIndex) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	want := platform()
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Satisfies(want) && d.MediaType.IsImage() {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no image for %s/%s", want.OS, want.Architecture)
}

// extract flattens the image's layers (whiteouts applied) into root.
func extract(ctx context.Context, img v1.Image, root string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	return layer.Extract(ctx, rc, root)
}
