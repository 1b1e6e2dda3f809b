package disk

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// stampVMDK replaces the random content ID qemu-img writes into the
// descriptor embedded in a monolithic sparse or stream-optimized VMDK.
func stampVMDK(path string, id ids) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("stamp %s: %w", path, err)
	}
	defer f.Close()
	header := make([]byte, 512)
	if _, err := f.ReadAt(header, 0); err != nil {
		return fmt.Errorf("stamp %s: %w", path, err)
	}
	if string(header[0:4]) != "KDMV" {
		return fmt.Errorf("stamp %s: no VMDK sparse header", path)
	}
	// SparseExtentHeader: descriptorOffset and descriptorSize in sectors.
	descOffset := int64(binary.LittleEndian.Uint64(header[28:])) * sectorSize
	descSize := int64(binary.LittleEndian.Uint64(header[36:])) * sectorSize
	if descOffset == 0 || descSize == 0 || descSize > 1<<20 {
		return fmt.Errorf("stamp %s: no embedded descriptor", path)
	}
	desc := make([]byte, descSize)
	if _, err := f.ReadAt(desc, descOffset); err != nil {
		return fmt.Errorf("stamp %s: %w", path, err)
	}
	// qemu-img prints the CID without leading zeros, so the line's length
	// varies; the descriptor area is NUL-padded and has room.
	i := bytes.Index(desc, []byte("\nCID="))
	eol := bytes.IndexByte(desc[max(i, 0)+1:], '\n')
	if i < 0 || eol < 0 {
		return fmt.Errorf("stamp %s: descriptor has no CID", path)
	}
	eol += i + 1
	if _, err := strconv.ParseUint(string(desc[i+5:eol]), 16, 32); err != nil {
		return fmt.Errorf("stamp %s: CID %q is not hexadecimal", path, desc[i+5:eol])
	}
	text, _, _ := bytes.Cut(desc, []byte{0})
	stamped := slices.Concat(desc[:i+5], []byte(id.VMDKCID), text[eol:])
	if len(stamped) > len(desc) {
		return fmt.Errorf("stamp %s: descriptor full", path)
	}
	desc = append(stamped, make([]byte, len(desc)-len(stamped))...)
	if _, err := f.WriteAt(desc, descOffset); err != nil {
		return fmt.Errorf("stamp %s: %w", path, err)
	}
	return f.Close()
}

// vhdEpoch is the VHD timestamp origin, 2000-01-01T00:00:00Z.
const vhdEpoch = 946684800

// stampVHD sets the creation time and unique ID in the footer of a fixed
// VHD (its last 512 bytes) and recomputes the footer checksum.
func stampVHD(path string, id ids, sourceDateEpoch int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("stamp %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stamp %s: %w", path, err)
	}
	off := fi.Size() - 512
	footer := make([]byte, 512)
	if off < 0 {
		return fmt.Errorf("stamp %s: too short for a VHD footer", path)
	}
	if _, err := f.ReadAt(footer, off); err != nil {
		return fmt.Errorf("stamp %s: %w", path, err)
	}
	if string(footer[0:8]) != "conectix" || binary.BigEndian.Uint32(footer[60:]) != 2 {
		return fmt.Errorf("stamp %s: no fixed VHD footer", path)
	}
	binary.BigEndian.PutUint32(footer[24:], uint32(max(0, sourceDateEpoch-vhdEpoch)))
	uuid, err := hex.DecodeString(strings.ReplaceAll(id.VHD, "-", ""))
	if err != nil || len(uuid) != 16 {
		return fmt.Errorf("stamp %s: bad UUID %q", path, id.VHD)
	}
	copy(footer[68:84], uuid)
	binary.BigEndian.PutUint32(footer[64:], vhdChecksum(footer))
	if _, err := f.WriteAt(footer, off); err != nil {
		return fmt.Errorf("stamp %s: %w", path, err)
	}
	return f.Close()
}

// vhdChecksum is the one's complement of the byte sum of the footer
// without its checksum field.
func vhdChecksum(footer []byte) uint32 {
	var sum uint32
	for i, b := range footer {
		if i < 64 || i >= 68 {
			sum += uint32(b)
		}
	}
	return ^sum
}
