package packages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"xroad-appliance/builder/keyring"
	"xroad-appliance/profiles"
)

// RepoMountPoint is where a local repository override appears inside the
// chroot during the install (on the tmpfs at /run, so it leaves no trace).
const RepoMountPoint = "/run/xroad-image/repo"

// Repo is the X-Road repository a build installs from: the profile's, or an
// override from the definition.
type Repo struct {
	// URL is the repository as the package manager sees it during the build.
	URL string
	// Dir is a local repository directory, bound read-only at RepoMountPoint.
	Dir        string
	Suite      string
	Components []string
	// Keyring is the public key that must have signed the repository, in the
	// format the profile's keyring path wants (binary for apt's signed-by).
	Keyring []byte
	// Offline fetches nothing else: every other package must be in the base.
	Offline bool
	// Override is true for a repository other than the profile's: the image
	// keeps its key but no source pointing at it.
	Override bool
}

// Describe names the repository in messages: a local one by its directory.
func (r *Repo) Describe() string {
	where := r.URL
	if r.Dir != "" {
		where = r.Dir
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s %s", where, r.Suite, strings.Join(r.Components, " ")))
}

// Label names the repository as the build sees it, without host paths:
// for image labels and cache keys.
func (r *Repo) Label() string {
	return strings.TrimSpace(fmt.Sprintf("%s %s %s", r.URL, r.Suite, strings.Join(r.Components, " ")))
}

// Override is a repository that replaces the profile's: a local directory
// or another URL, with the keyring file that verifies its signature.
type Override struct {
	Dir, URL, Keyring, Suite string
	Components               []string
	// Offline fetches nothing but this repository.
	Offline bool
}

// RepoFor returns the repository version's packages come from: o, or the
// profile's repository pr, whose signing key is then fetched.
func RepoFor(ctx context.Context, pr profiles.Repository, version string, o *Override) (*Repo, error) {
	expand := strings.NewReplacer("{version}", version, "{suite}", pr.Suite)
	r := &Repo{Suite: pr.Suite, Components: pr.Components}
	var key []byte
	var err error
	if o != nil {
		r.Override, r.Offline = true, o.Offline
		r.URL, r.Dir = o.URL, o.Dir
		if o.Dir != "" {
			r.URL = "file://" + RepoMountPoint
		}
		if o.Suite != "" {
			r.Suite = o.Suite
		}
		if len(o.Components) > 0 {
			r.Components = o.Components
		}
		if key, err = os.ReadFile(o.Keyring); err != nil {
			return nil, fmt.Errorf("repository keyring: %w", err)
		}
	} else {
		r.URL = strings.TrimSuffix(expand.Replace(pr.URL), "/")
		if key, err = keyring.Fetch(ctx, pr.SigningKeyURL, 1<<20); err != nil {
			return nil, fmt.Errorf("X-Road repository %s: signing key: %w", r.URL, err)
		}
	}
	if pr.Kind == "deb" && len(r.Components) == 0 {
		r.Components = []string{"main"}
	}
	if r.Keyring, err = keyringFor(ctx, pr, key); err != nil {
		return nil, fmt.Errorf("X-Road repository %s: %w", r.Describe(), err)
	}
	return r, nil
}

// keyringFor puts a key into the format the image's keyring path wants
// (apt's signed-by reads binary keys from *.gpg files) and checks the
// fingerprint the profile pins, if any.
func keyringFor(ctx context.Context, repo profiles.Repository, key []byte) ([]byte, error) {
	if repo.Kind == "deb" && strings.HasSuffix(repo.Keyring, ".gpg") {
		bin, err := keyring.Dearmor(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		key = bin
	}
	if repo.SigningKeyFingerprint == "" {
		return key, nil
	}
	fprs, err := keyring.Fingerprints(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	want := keyring.Normalize(repo.SigningKeyFingerprint)
	if !slices.Contains(fprs, want) {
		return nil, fmt.Errorf("signing key fingerprints %s do not include the pinned %s", strings.Join(fprs, ", "), want)
	}
	return key, nil
}

// indexFiles are the files whose content changes whenever a repository's
// packages do (signed indexes), per repository kind.
var indexFiles = map[string][]string{
	"deb": {"dists/{suite}/InRelease", "dists/{suite}/Release", "dists/{suite}/Release.gpg"},
	"rpm": {"repodata/repomd.xml", "repodata/repomd.xml.asc"},
}

// contentKey identifies what a repository serves for the cache key: for a
// local directory the hash of its signed indexes, for a remote one its
// address (its content is not known without fetching it).
func (r *Repo) contentKey(kind string) (string, error) {
	if r.Dir == "" {
		return r.URL, nil
	}
	h := sha256.New()
	found := false
	for _, f := range indexFiles[kind] {
		p := filepath.Join(r.Dir, strings.ReplaceAll(f, "{suite}", r.Suite))
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		found = true
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	if !found {
		return "", fmt.Errorf("X-Road repository %s: no index (%s) in %s", r.Describe(), strings.Join(indexFiles[kind], ", "), r.Dir)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// RepositoryError is a repository the package manager could not use.
type RepositoryError struct {
	Repo   string
	Reason string // unsigned, untrusted key, unreachable, failed
	Detail string // the package manager's own lines
}

func (e *RepositoryError) Error() string {
	return fmt.Sprintf("X-Road repository %s: %s\n%s", e.Repo, e.Reason, e.Detail)
}

var aptProblem = regexp.MustCompile(`(?m)^(E|W|Err):?.*$`)

// classifyApt turns a failed apt-get update into a RepositoryError that says
// what is wrong in words, keeping apt's error and warning lines as detail.
func classifyApt(repo *Repo, output string, err error) error {
	lines := strings.Join(aptProblem.FindAllString(output, -1), "\n")
	if lines == "" {
		lines = err.Error()
	}
	reason := "apt-get update failed"
	switch {
	case strings.Contains(output, "NO_PUBKEY") || strings.Contains(output, "EXPKEYSIG") || strings.Contains(output, "BADSIG"):
		reason = "its signature does not verify with the configured keyring; refusing to install from it"
	case strings.Contains(output, "is not signed") || strings.Contains(output, "is no longer signed") ||
		strings.Contains(output, "does not have a Release file"):
		reason = "the repository is not signed (no InRelease or Release.gpg); refusing to install from it"
	case strings.Contains(output, "Could not resolve") || strings.Contains(output, "Could not connect") ||
		strings.Contains(output, "Failed to fetch") || strings.Contains(output, "Unable to connect") ||
		strings.Contains(output, "Connection refused") || strings.Contains(output, "No such file or directory"):
		reason = "unreachable"
	}
	return &RepositoryError{Repo: repo.Describe(), Reason: reason, Detail: lines}
}
