// Package secretscan looks through a root file system for what an image must
// never carry: private keys (PEM of every kind, OpenSSH and PuTTY key files,
// PKCS#12, JKS and JCEKS key stores), X-Road property files with a password
// set, and the per-install files the profile and the image definition name.
// Public keys, certificates and trust stores are not findings. Files are read bounded (the first few
// KiB, more only for candidates), never followed through links, and findings
// name paths and reasons, never a secret's value.
package secretscan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Finding is one path of the image and why it is a secret.
type Finding struct {
	Path    string   // absolute path inside the image
	Reasons []string // sorted
}

func (f Finding) String() string { return f.Path + ": " + strings.Join(f.Reasons, "; ") }

// Options are what the scan looks for besides keys and passwords.
type Options struct {
	// PerInstall are image paths and globs (path.Match) of per-install
	// material: any file or link matching one is a finding.
	PerInstall []string
	// Empty are image paths of files that must be empty when present
	// (/etc/machine-id).
	Empty []string
	// Workers read files at once; 0 for twice the processors.
	Workers int
}

// Limits on what is read of a file.
const (
	// headSize is read of every regular file: PEM blocks, key file magic
	// and the PKCS#12 header are found there.
	headSize = 8 << 10
	// candidateSize is read of a file whose head looks like PEM, PKCS#12 or
	// an X-Road property file, to find a key after certificates.
	candidateSize = 1 << 20
)

// skipped are kernel file systems, never part of an image.
var skipped = []string{"/proc", "/sys", "/dev"}

// Scan walks root and returns its findings sorted by path; an error only
// when root cannot be read.
func Scan(ctx context.Context, root string, o Options) ([]Finding, error) {
	workers := o.Workers
	if workers <= 0 {
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	type job struct{ host, image string }
	jobs := make(chan job, 256)
	var (
		mu       sync.Mutex
		findings = map[string][]string{}
		readErrs []error
	)
	add := func(p, reason string) {
		mu.Lock()
		findings[p] = append(findings[p], reason)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, headSize)
			for j := range jobs {
				reasons, err := inspect(j.host, j.image, buf)
				if err != nil {
					mu.Lock()
					readErrs = append(readErrs, err)
					mu.Unlock()
				}
				for _, r := range reasons {
					add(j.image, r)
				}
			}
		}()
	}
	walkErr := filepath.WalkDir(root, func(host string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(root, host)
		image := path.Join("/", filepath.ToSlash(rel))
		if d.IsDir() {
			if slices.Contains(skipped, image) {
				return filepath.SkipDir
			}
			return nil
		}
		if matchesAny(o.PerInstall, image) {
			add(image, "per-install file (install.remove)")
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if slices.Contains(o.Empty, image) {
			if fi, err := d.Info(); err == nil && fi.Size() > 0 {
				add(image, "per-install file not emptied (install.empty)")
			}
		}
		jobs <- job{host, image}
		return nil
	})
	close(jobs)
	wg.Wait()
	if walkErr != nil {
		return nil, fmt.Errorf("secret scan of %s: %w", root, walkErr)
	}
	if len(readErrs) > 0 {
		return nil, fmt.Errorf("secret scan of %s: %w", root, errors.Join(readErrs...))
	}
	out := make([]Finding, 0, len(findings))
	for p, r := range findings {
		slices.Sort(r)
		out = append(out, Finding{Path: p, Reasons: slices.Compact(r)})
	}
	slices.SortFunc(out, func(a, b Finding) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func matchesAny(patterns []string, p string) bool {
	for _, pat := range patterns {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// inspect reads one regular file and returns why it is a secret, if it is.
func inspect(host, image string, buf []byte) ([]string, error) {
	f, err := os.Open(host)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", image, err)
	}
	head := buf[:n]
	if n == 0 {
		return nil, nil
	}
	if gnupgPrivateKey(image) {
		return []string{"GnuPG private key"}, nil
	}
	properties := isXRoadProperties(image)
	pemLike := bytes.Contains(head, []byte("-----BEGIN "))
	p12 := isPKCS12(head)
	jks := isJavaKeyStore(head)
	if !properties && !pemLike && !p12 && !jks && !hasKeyFileMagic(head) {
		return nil, nil
	}
	data := head
	if n == len(buf) && (properties || pemLike || p12 || jks) {
		// A candidate: the rest (bounded) may hold a key after certificates.
		rest, err := io.ReadAll(io.LimitReader(f, candidateSize-int64(n)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", image, err)
		}
		data = append(slices.Clone(head), rest...)
	}
	var reasons []string
	if t := pemPrivateKey(data); t != "" {
		reasons = append(reasons, "PEM private key ("+t+")")
	}
	if m := keyFileMagic(head); m != "" {
		reasons = append(reasons, m)
	}
	if p12 {
		switch {
		case hasPKCS12KeyBag(data):
			reasons = append(reasons, "PKCS#12 key store with a private key")
		case strings.EqualFold(path.Ext(image), ".p12") || strings.EqualFold(path.Ext(image), ".pfx"):
			reasons = append(reasons, "PKCS#12 key store")
		}
	}
	if jks {
		if r := javaKeyStoreSecret(data); r != "" {
			reasons = append(reasons, r)
		}
	}
	if properties {
		for _, k := range passwordKeys(data) {
			reasons = append(reasons, "X-Road property "+k+" holds a password")
		}
	}
	return reasons, nil
}

// pemPrivateKey returns the type of the first well-formed PEM block holding
// a private key (RSA, EC, DSA, ENCRYPTED, OPENSSH, PKCS#8 ...), or "".
// Certificates, public keys and a BEGIN line in a binary's strings are not.
func pemPrivateKey(data []byte) string {
	rest := data
	for {
		i := bytes.Index(rest, []byte("-----BEGIN "))
		if i < 0 {
			return ""
		}
		block, r := pem.Decode(rest[i:])
		if block == nil {
			rest = rest[i+len("-----BEGIN "):]
			continue
		}
		if strings.Contains(block.Type, "PRIVATE KEY") && len(block.Bytes) > 0 {
			return block.Type
		}
		rest = r
	}
}

// hasKeyFileMagic is a cheap test for keyFileMagic.
func hasKeyFileMagic(head []byte) bool { return keyFileMagic(head) != "" }

// keyFileMagic names private key formats that are not PEM: OpenSSH's legacy
// protocol 1 key file and PuTTY's key file. OpenPGP secret keys armored.
func keyFileMagic(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("SSH PRIVATE KEY FILE FORMAT 1.1\n")):
		return "OpenSSH private key (protocol 1)"
	case bytes.HasPrefix(head, []byte("PuTTY-User-Key-File-")):
		return "PuTTY private key"
	case bytes.HasPrefix(head, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")):
		return "OpenPGP private key"
	}
	return ""
}

var (
	// pkcs7-data and pkcs7-signedData, the authSafe content types of a PFX.
	oidData       = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}
	oidSignedData = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}
	// keyBag and pkcs8ShroudedKeyBag (PKCS#12 bag types 1 and 2).
	oidKeyBag         = []byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x01}
	oidShroudedKeyBag = []byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02}
)

// isPKCS12 reads the start of a PFX (RFC 7292): SEQUENCE { INTEGER 3,
// ContentInfo SEQUENCE { OID pkcs7-data or signedData, ... } ...}, in DER or
// BER (indefinite lengths).
func isPKCS12(b []byte) bool {
	p, ok := enterSequence(b, 0)
	if !ok || !bytes.HasPrefix(b[p:], []byte{0x02, 0x01, 0x03}) {
		return false
	}
	if p, ok = enterSequence(b, p+3); !ok {
		return false
	}
	return bytes.HasPrefix(b[p:], oidData) || bytes.HasPrefix(b[p:], oidSignedData)
}

// enterSequence returns the offset of a SEQUENCE's content at b[p:].
func enterSequence(b []byte, p int) (int, bool) {
	if p+2 > len(b) || b[p] != 0x30 {
		return 0, false
	}
	l := b[p+1]
	switch {
	case l < 0x80 || l == 0x80: // short form, or BER indefinite
		return p + 2, true
	case l&0x7f <= 4:
		return p + 2 + int(l&0x7f), p+2+int(l&0x7f) <= len(b)
	}
	return 0, false
}

// hasPKCS12KeyBag reports a key bag in the clear parts of a PFX, where
// OpenSSL and Java put a private key (shrouded, i.e. encrypted with the
// store's password, which is no protection in an image).
func hasPKCS12KeyBag(b []byte) bool {
	return bytes.Contains(b, oidShroudedKeyBag) || bytes.Contains(b, oidKeyBag)
}

// gnupgPrivateKey: GnuPG keeps secret keys in private-keys-v1.d (2.1 and
// later) or secring.gpg (before), in formats of its own; X-Road's backup
// key lives in such a home (/etc/xroad/gpghome).
func gnupgPrivateKey(image string) bool {
	return path.Base(path.Dir(image)) == "private-keys-v1.d" && strings.HasSuffix(image, ".key") ||
		path.Base(image) == "secring.gpg"
}

// isXRoadProperties: X-Road's property files, where database and admin
// passwords live.
func isXRoadProperties(image string) bool {
	return image == "/etc/xroad.properties" ||
		strings.HasPrefix(image, "/etc/xroad/") && strings.HasSuffix(image, ".properties")
}

// passwordKeys returns the keys of a Java properties file that end in
// "password" (any case) and have a value, in file order.
func passwordKeys(data []byte) []string {
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), candidateSize)
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		key, value := splitProperty(line)
		if strings.HasSuffix(strings.ToLower(key), "password") && strings.TrimSpace(value) != "" {
			keys = append(keys, key)
		}
	}
	return keys
}

// splitProperty splits a properties line at the first unescaped '=', ':' or
// blank, as java.util.Properties does.
func splitProperty(line string) (key, value string) {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '=', ':':
			return line[:i], line[i+1:]
		case ' ', '\t', '\f':
			rest := strings.TrimLeft(line[i:], " \t\f")
			if rest != "" && (rest[0] == '=' || rest[0] == ':') {
				rest = rest[1:]
			}
			return line[:i], rest
		}
	}
	return line, ""
}
