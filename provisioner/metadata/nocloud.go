package metadata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/fat12"
	"github.com/diskfs/go-diskfs/filesystem/fat16"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"gopkg.in/yaml.v3"

	"xroad-appliance/provisioner/inputfile"
)

// cloudConfig is the part of #cloud-config user-data we read. It is decoded
// leniently: user-data carries many other modules' keys. The document taken
// out of it is then parsed strictly.
type cloudConfig struct {
	WriteFiles []writeFile `yaml:"write_files"`
}

type writeFile struct {
	Path        string    `yaml:"path"`
	Content     string    `yaml:"content"`
	Encoding    string    `yaml:"encoding"`
	Owner       string    `yaml:"owner"`
	Permissions yaml.Node `yaml:"permissions"`
}

// roleFromUserData returns the content of the write_files entry for RoleFile.
// When user-data is not #cloud-config or has no such entry it returns nil and
// a note saying why. Errors never quote user-data, which holds secrets.
func roleFromUserData(data []byte) (doc []byte, note string, err error) {
	if !isCloudConfig(data) {
		return nil, "user-data is not #cloud-config", nil
	}
	if len(data) > maxUserData {
		return nil, "", fmt.Errorf("larger than %d bytes", maxUserData)
	}
	// One document, as cloud-init reads it: a second one would be ignored
	// here and refused by cloud-init, or the other way round.
	root, err := inputfile.ParseYAML(data)
	if err != nil {
		return nil, "", fmt.Errorf("not valid #cloud-config YAML: %w", err)
	}
	var cc cloudConfig
	if err := inputfile.Decode(root, &cc); err != nil {
		return nil, "", fmt.Errorf("not valid #cloud-config YAML: %w", err)
	}
	var entry *writeFile
	var field string
	for i := range cc.WriteFiles {
		if path.Clean(cc.WriteFiles[i].Path) != RoleFile {
			continue
		}
		if entry != nil {
			return nil, "", fmt.Errorf("write_files has more than one entry for %s", RoleFile)
		}
		entry, field = &cc.WriteFiles[i], fmt.Sprintf("write_files[%d]", i)
	}
	if entry == nil {
		return nil, "no write_files entry for " + RoleFile, nil
	}

	// cloud-init writes the role file with these attributes; the role file
	// check would refuse the result, so refuse the seed the same way even
	// when no cloud-init runs.
	perm, ok := cloudInitPerm(entry.Permissions)
	switch {
	case entry.Permissions.Kind == 0:
		return nil, "", fmt.Errorf("%s.permissions: missing (cloud-init's default is 0644); set '0600'", field)
	case !ok:
		return nil, "", fmt.Errorf("%s.permissions: not an octal mode", field)
	case perm&0o077 != 0:
		return nil, "", fmt.Errorf("%s.permissions: %04o lets group or others read secrets; set '0600'", field, perm)
	}
	switch entry.Owner {
	case "", "root", "root:root", "0:0":
	default:
		return nil, "", fmt.Errorf("%s.owner: the role file must belong to root", field)
	}

	content, err := decodeContent(entry.Encoding, entry.Content)
	if err != nil {
		return nil, "", fmt.Errorf("%s.content: %w", field, err)
	}
	return content, "", nil
}

// isCloudConfig tells whether user-data is #cloud-config: its first line, as
// cloud-init reads it.
func isCloudConfig(data []byte) bool {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	return string(bytes.TrimSpace(first)) == "#cloud-config"
}

// cloudInitPerm reads permissions as cloud-init does: a string is octal, an
// integer is taken as is (YAML 1.1 reads an unquoted 0600 as octal).
func cloudInitPerm(n yaml.Node) (uint64, bool) {
	if n.Kind != yaml.ScalarNode {
		return 0, false
	}
	v := n.Value
	if n.ShortTag() == "!!int" && !strings.HasPrefix(v, "0") {
		p, err := strconv.ParseUint(v, 10, 32)
		return p, err == nil
	}
	p, err := strconv.ParseUint(strings.TrimPrefix(v, "0o"), 8, 32)
	return p, err == nil
}

// decodeContent undoes cloud-init's write_files encodings.
func decodeContent(encoding, content string) ([]byte, error) {
	switch strings.ToLower(encoding) {
	case "", "text/plain":
		return []byte(content), nil
	case "b64", "base64":
		return decodeBase64(content)
	case "gz+b64", "gz+base64", "gzip+b64", "gzip+base64":
		packed, err := decodeBase64(content)
		if err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(bytes.NewReader(packed))
		if err != nil {
			return nil, fmt.Errorf("not gzip data")
		}
		// Read one byte past the limit so Parse reports the size, not a
		// truncated document.
		out, err := io.ReadAll(io.LimitReader(zr, MaxSize+1))
		if err != nil {
			return nil, fmt.Errorf("corrupt gzip data")
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported encoding (use b64 or gz+b64, or none)")
}

func decodeBase64(s string) ([]byte, error) {
	// cloud-init (Python's b64decode) accepts base64 wrapped over lines.
	out, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, fmt.Errorf("not valid base64")
	}
	return out, nil
}

// readCidata reads user-data from the root of an ISO9660 or FAT file system
// on dev (a block device or an image file) without mounting it.
func readCidata(dev string) (data []byte, err error) {
	// A corrupt image must not crash the first boot.
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("unreadable file system")
		}
	}()
	d, err := diskfs.Open(dev, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	fsys, err := cidataFS(d)
	if err != nil {
		return nil, err
	}
	if label := strings.Trim(fsys.Label(), " \x00"); !strings.EqualFold(label, CidataLabel) {
		return nil, fmt.Errorf("volume label is not %s", CidataLabel)
	}
	entries, err := fsys.ReadDir(".")
	if err != nil {
		return nil, fmt.Errorf("reading the root directory: %w", err)
	}
	for _, e := range entries {
		if !strings.EqualFold(e.Name(), "user-data") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("user-data: %w", err)
		}
		if !info.Mode().IsRegular() || info.Size() > maxUserData {
			return nil, fmt.Errorf("user-data is not a regular file of at most %d bytes", maxUserData)
		}
		return fsys.ReadFile(e.Name())
	}
	return nil, fmt.Errorf("no user-data file in the root directory")
}

// cidataFS opens the file systems NoCloud seeds use: cloud-localds and
// genisoimage write ISO9660, some tools vfat. Only these are tried.
func cidataFS(d *disk.Disk) (filesystem.FileSystem, error) {
	if fsys, err := iso9660.Read(d.Backend, d.Size, 0, 0); err == nil {
		return fsys, nil
	}
	bs := d.LogicalBlocksize
	if fsys, err := fat32.Read(d.Backend, d.Size, 0, bs); err == nil {
		return fsys, nil
	}
	if fsys, err := fat16.Read(d.Backend, d.Size, 0, bs); err == nil {
		return fsys, nil
	}
	if fsys, err := fat12.Read(d.Backend, d.Size, 0, bs); err == nil {
		return fsys, nil
	}
	return nil, fmt.Errorf("neither ISO9660 nor FAT")
}
