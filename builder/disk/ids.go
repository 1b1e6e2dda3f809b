package disk

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// ids are the identifiers written into the disk. They are derived from the
// build's inputs, so that a rebuild gives the same bytes while two different
// images (or two builds of the same definition at different source dates)
// do not share them: Linux finds the root by PARTUUID, and two disks with
// equal identifiers in one machine would confuse it.
type ids struct {
	Disk     string // GPT disk GUID
	ESP      string // ESP partition GUID
	Root     string // root partition GUID: root=PARTUUID=
	RootFS   string // ext4 file system UUID
	HashSeed string // ext4 directory hash seed
	VHD      string // VHD footer unique ID
	VMDKCID  string // VMDK content ID, 8 hex digits
}

// deriveIDs makes the identifiers from the image name, the source date, the
// rootfs fingerprint and the disk size.
func deriveIDs(name string, sourceDateEpoch int64, fingerprint [sha256.Size]byte, diskSize int64) ids {
	var seed []byte
	seed = binary.BigEndian.AppendUint64(seed, uint64(sourceDateEpoch))
	seed = binary.BigEndian.AppendUint64(seed, uint64(diskSize))
	seed = append(seed, fingerprint[:]...)
	seed = append(seed, name...)
	return ids{
		Disk:     derivedUUID("gpt-disk", seed),
		ESP:      derivedUUID("gpt-esp", seed),
		Root:     derivedUUID("gpt-root", seed),
		RootFS:   derivedUUID("ext4-uuid", seed),
		HashSeed: derivedUUID("ext4-hash-seed", seed),
		VHD:      derivedUUID("vhd", seed),
		VMDKCID:  derivedUUID("vmdk-cid", seed)[:8],
	}
}

// derivedUUID hashes purpose and seed into a UUID laid out as version 4
// (random), the way systemd derives application-specific IDs.
func derivedUUID(purpose string, seed []byte) string {
	h := sha256.New()
	h.Write([]byte("xroad-appliance disk " + purpose + "\x00"))
	h.Write(seed)
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
