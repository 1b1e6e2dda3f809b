package disk

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"sync"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// espLabel is the FAT volume label of the ESP.
const espLabel = "ESP"

// writeGPTAndESP writes the protective MBR, both GPTs and the FAT32 ESP
// with its files into f, which is already l.DiskSize bytes long.
func writeGPTAndESP(f *os.File, l layout, id ids, files []espFile, sourceDateEpoch int64) error {
	d, err := diskfs.OpenBackend(file.New(f, false), diskfs.WithSectorSize(diskfs.SectorSize512))
	if err != nil {
		return fmt.Errorf("open %s: %w", f.Name(), err)
	}
	table := &gpt.Table{
		LogicalSectorSize:  sectorSize,
		PhysicalSectorSize: sectorSize,
		ProtectiveMBR:      true,
		GUID:               id.Disk,
		Partitions: []*gpt.Partition{
			{
				Index: 1,
				Start: uint64(l.ESPStart / sectorSize),
				End:   uint64((l.ESPStart+l.ESPSize)/sectorSize - 1),
				Type:  gpt.EFISystemPartition,
				Name:  "EFI System Partition",
				GUID:  id.ESP,
			},
			{
				Index: 2,
				Start: uint64(l.RootStart / sectorSize),
				End:   uint64((l.RootStart+l.RootSize)/sectorSize - 1),
				Type:  gpt.LinuxRootX86_64, // found by systemd-gpt-auto-generator too
				Name:  "root",
				GUID:  id.Root,
			},
		},
	}
	if err := d.Partition(table); err != nil {
		return fmt.Errorf("partition %s: %w", f.Name(), err)
	}
	err = withSourceDateEpoch(sourceDateEpoch, func() error {
		return writeESP(d, files, f.Name())
	})
	if err != nil {
		return err
	}
	if err := fixFAT32(f, f, l.ESPStart); err != nil {
		return fmt.Errorf("ESP in %s: %w", f.Name(), err)
	}
	return nil
}

func writeESP(d *disk.Disk, files []espFile, name string) error {
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{
		Partition:    1,
		FSType:       filesystem.TypeFat32,
		VolumeLabel:  espLabel,
		Reproducible: true, // volume serial 0 instead of the current time
	})
	if err != nil {
		return fmt.Errorf("ESP in %s: %w", name, err)
	}
	for _, ef := range files {
		if err := fs.Mkdir(path.Dir(ef.Path)); err != nil {
			return fmt.Errorf("ESP in %s: mkdir %s: %w", name, path.Dir(ef.Path), err)
		}
		data := ef.Contents
		if ef.Source != "" {
			// One Write per file: go-diskfs rewrites the whole FAT on every
			// call that grows a file.
			if data, err = os.ReadFile(ef.Source); err != nil {
				return fmt.Errorf("ESP in %s: %w", name, err)
			}
		}
		out, err := fs.OpenFile(ef.Path, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return fmt.Errorf("ESP in %s: create %s: %w", name, ef.Path, err)
		}
		if _, err := out.Write(data); err != nil {
			out.Close()
			return fmt.Errorf("ESP in %s: write %s: %w", name, ef.Path, err)
		}
		if err := out.Close(); err != nil {
			return fmt.Errorf("ESP in %s: close %s: %w", name, ef.Path, err)
		}
	}
	return nil
}

// sourceDateEpochMu serialises withSourceDateEpoch: go-diskfs takes FAT
// timestamps from the SOURCE_DATE_EPOCH environment variable and nowhere
// else, so the variable is set for the duration of the ESP write and put
// back afterwards.
var sourceDateEpochMu sync.Mutex

func withSourceDateEpoch(epoch int64, fn func() error) error {
	sourceDateEpochMu.Lock()
	defer sourceDateEpochMu.Unlock()
	old, had := os.LookupEnv("SOURCE_DATE_EPOCH")
	if err := os.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(epoch, 10)); err != nil {
		return err
	}
	defer func() {
		if had {
			os.Setenv("SOURCE_DATE_EPOCH", old)
		} else {
			os.Unsetenv("SOURCE_DATE_EPOCH")
		}
	}()
	return fn()
}
