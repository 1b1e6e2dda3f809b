package kit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"

	"xroad-appliance/provisioner/metadata"
)

// writeSeedISO writes a NoCloud ISO9660 image holding files at its root. The
// go-diskfs workspace is a private 0700 directory under scratch (the staged
// files contain secrets) and is removed afterwards. Rock Ridge keeps the
// lowercase, hyphenated names cloud-init opens.
func writeSeedISO(path, scratch string, files map[string][]byte) (err error) {
	work, err := os.MkdirTemp(scratch, ".iso-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(work, n), files[n], 0o600); err != nil {
			return err
		}
	}

	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	fs, err := iso9660.Create(file.New(f, false), 0, 0, 2048, work)
	if err != nil {
		return fmt.Errorf("iso9660: %w", err)
	}
	err = fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, VolumeIdentifier: metadata.CidataLabel})
	// Close removes the workspace; the deferred RemoveAll covers a failed Finalize.
	return errors.Join(err, fs.Close())
}
