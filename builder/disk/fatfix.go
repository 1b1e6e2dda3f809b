package disk

import (
	"encoding/binary"
	"fmt"
	"io"
)

// fixFAT32 repairs two things go-diskfs v1.9 leaves in a FAT32 file system
// that fsck.vfat reports, and that some firmware may trip over:
//
//   - the ".." entry of a directory in the root points at the root's
//     cluster; the FAT specification wants cluster 0 there;
//   - the FSInfo free-cluster count stays "unknown" (0xffffffff).
//
// It works on the raw bytes of the file system starting at start.
func fixFAT32(f io.ReaderAt, w io.WriterAt, start int64) error {
	boot := make([]byte, 512)
	if _, err := f.ReadAt(boot, start); err != nil {
		return err
	}
	if boot[510] != 0x55 || boot[511] != 0xaa || string(boot[82:87]) != "FAT32" {
		return fmt.Errorf("no FAT32 boot sector at %d", start)
	}
	bps := int64(binary.LittleEndian.Uint16(boot[11:]))
	spc := int64(boot[13])
	reserved := int64(binary.LittleEndian.Uint16(boot[14:]))
	fats := int64(boot[16])
	totalSectors := int64(binary.LittleEndian.Uint32(boot[32:]))
	fatSectors := int64(binary.LittleEndian.Uint32(boot[36:]))
	rootCluster := binary.LittleEndian.Uint32(boot[44:])
	fsInfo := int64(binary.LittleEndian.Uint16(boot[48:]))
	backupBoot := int64(binary.LittleEndian.Uint16(boot[50:]))

	fat := make([]byte, fatSectors*bps)
	if _, err := f.ReadAt(fat, start+reserved*bps); err != nil {
		return err
	}
	entry := func(c uint32) uint32 { return binary.LittleEndian.Uint32(fat[4*c:]) & 0x0fffffff }
	dataStart := start + (reserved+fats*fatSectors)*bps
	clusterBytes := spc * bps
	clusterCount := uint32((totalSectors - reserved - fats*fatSectors) / spc)
	clusterAt := func(c uint32) int64 { return dataStart + int64(c-2)*clusterBytes }

	// Walk the root directory's cluster chain for subdirectory entries.
	buf := make([]byte, clusterBytes)
	for c := rootCluster; c >= 2 && c < 0x0ffffff8; c = entry(c) {
		if _, err := f.ReadAt(buf, clusterAt(c)); err != nil {
			return err
		}
		for off := 0; off+32 <= len(buf); off += 32 {
			e := buf[off : off+32]
			if e[0] == 0 {
				break
			}
			attr := e[11]
			if e[0] == 0xe5 || attr&0x0f == 0x0f || attr&0x08 != 0 || attr&0x10 == 0 {
				continue // deleted, long name, volume label, not a directory
			}
			sub := uint32(binary.LittleEndian.Uint16(e[20:]))<<16 | uint32(binary.LittleEndian.Uint16(e[26:]))
			if err := zeroDotDot(f, w, clusterAt(sub)); err != nil {
				return err
			}
		}
	}

	var free uint32
	for c := uint32(2); c < clusterCount+2; c++ {
		if entry(c) == 0 {
			free++
		}
	}
	for _, sector := range []int64{fsInfo, backupBoot + 1} {
		if sector == 0 {
			continue
		}
		info := make([]byte, 512)
		at := start + sector*bps
		if _, err := f.ReadAt(info, at); err != nil {
			return err
		}
		if string(info[0:4]) != "RRaA" || string(info[484:488]) != "rrAa" {
			return fmt.Errorf("no FSInfo sector at sector %d", sector)
		}
		binary.LittleEndian.PutUint32(info[488:], free)
		if _, err := w.WriteAt(info, at); err != nil {
			return err
		}
	}
	return nil
}

// zeroDotDot points the ".." entry (the second) of the directory at off to
// cluster 0, which stands for the root.
func zeroDotDot(f io.ReaderAt, w io.WriterAt, off int64) error {
	e := make([]byte, 32)
	if _, err := f.ReadAt(e, off+32); err != nil {
		return err
	}
	if string(e[0:11]) != "..         " {
		return fmt.Errorf("directory at %d has no '..' entry", off)
	}
	e[20], e[21], e[26], e[27] = 0, 0, 0, 0
	_, err := w.WriteAt(e, off+32)
	return err
}
