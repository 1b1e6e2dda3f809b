package bake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"xroad-appliance/builder/bake"
	"xroad-appliance/test/fixtures"
	"xroad-appliance/test/registry"
)

// TestPushToRealRegistry runs `xroad-image build --push` as CI does against
// the distribution registry on loopback, with TLS from a throwaway CA
// (given as SSL_CERT_FILE) and basic authentication whose credentials come
// from a Docker config (DOCKER_CONFIG), never from argv. The manifest
// pulled back has the digest the build reports and the OCI layout holds. A
// wrong password fails the build with the reason, leaves no output, and
// neither password appears in what the command printed.
func TestPushToRealRegistry(t *testing.T) {
	f := setup(t)
	registry.Need(t)
	const user, password, wrong = "ci-pusher", "correct-Horse-7", "wrong-Battery-9"
	reg := registry.Start(t, user, password)

	bin := filepath.Join(binDir, "xroad-image")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, "xroad-appliance/cmd/xroad-image").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ref := reg.Host + "/xroad/securityserver:push-test"
	xroadImage := func(dockerConfig, out string, env ...string) (int, string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "build", definitionFile(), "--profile", "debian-12",
			"--base", "rootfs:"+f.baseRootfs, "--repo", f.repo.Dir, "--repo-keyring", f.repo.Keyring,
			"--repo-suite", fixtures.Suite, "--offline", "--output", "oci-layout,package-manifest",
			"--push", ref, "--node-binary", f.nodeBinary, "--cache", f.cacheRoot, "--out", out, "--json")
		cmd.Env = append(append(os.Environ(), "DOCKER_CONFIG="+dockerConfig, "SSL_CERT_FILE="+reg.CAFile), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, stdout.String(), stderr.String()
	}

	out := filepath.Join(t.TempDir(), "out")
	start := time.Now()
	code, stdout, stderr := xroadImage(reg.DockerConfig(t, user, password), out)
	t.Logf("build and push took %s", time.Since(start).Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var res bake.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	var pushed string
	for _, o := range res.Outputs {
		if o.Kind == "registry" {
			pushed = o.Ref
		}
	}
	if want := reg.Host + "/xroad/securityserver@" + res.ManifestDigest; pushed != want {
		t.Errorf("registry output %q, want %q", pushed, want)
	}

	// Pulled back by tag, as a deployment would, over verified TLS.
	tag, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	auth := remote.WithAuth(&authn.Basic{Username: user, Password: password})
	desc, err := remote.Get(tag, auth, remote.WithTransport(reg.Transport()))
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if desc.Digest.String() != res.ManifestDigest {
		t.Errorf("registry has %s, the build reports %s", desc.Digest, res.ManifestDigest)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := img.ConfigName(); err != nil || cfg.String() != res.ConfigDigest {
		t.Errorf("pulled config %v (%v), the build reports %s", cfg, err, res.ConfigDigest)
	}
	// Every layer's blob is there, not only the manifest.
	layers, err := img.Layers()
	if err != nil || len(layers) != len(res.Layers) {
		t.Fatalf("pulled %d layers (%v), the build made %d", len(layers), err, len(res.Layers))
	}
	for _, l := range layers {
		d, _ := l.Digest()
		if _, err := remote.Layer(tag.Context().Digest(d.String()), auth, remote.WithTransport(reg.Transport())); err != nil {
			t.Errorf("layer %s: %v", d, err)
		}
	}
	idx, err := layout.ImageIndexFromPath(filepath.Join(out, bake.LayoutDir))
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 || m.Manifests[0].Digest.String() != res.ManifestDigest {
		t.Errorf("OCI layout holds %+v (%v), want %s", m, err, res.ManifestDigest)
	}

	// A wrong password: the build fails, names the registry and the
	// keychain, writes nothing, and prints neither password.
	parent := t.TempDir()
	badOut := filepath.Join(parent, "out")
	code, stdout, stderr = xroadImage(reg.DockerConfig(t, user, wrong), badOut)
	if code == 0 {
		t.Fatal("a push with a wrong password succeeded")
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	t.Logf("wrong password: exit %d: %s", code, lines[len(lines)-1])
	for _, want := range []string{"registry " + reg.Host + " refused the credentials", "HTTP 401", "DOCKER_CONFIG"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, secret := range []string{wrong, password} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("a password is in the output:\n%s\n%s", stdout, stderr)
		}
	}
	if left, _ := os.ReadDir(parent); len(left) > 0 {
		t.Errorf("a failed push left output: %v", left)
	}

	// The registry's CA not trusted: the failure says so.
	code, _, stderr = xroadImage(reg.DockerConfig(t, user, password), badOut, "SSL_CERT_FILE="+filepath.Join(t.TempDir(), "none.pem"))
	if code == 0 || !strings.Contains(stderr, "signed by an unknown authority: add its CA") {
		t.Errorf("untrusted registry: exit %d\n%s", code, stderr)
	}
}
