package disk

import "fmt"

const (
	sectorSize = 512
	mib        = int64(1) << 20
	gib        = int64(1) << 30

	// Partitions start and end on 1 MiB boundaries; the first and the last
	// MiB hold the GPT and its backup.
	align = mib

	// The ESP is at least 256 MiB: enough for two kernels with initrds and
	// comfortably above FAT32's minimum cluster count.
	espMinSize = 256 * mib

	// ext4 geometry, pinned so that the size estimate and the result do not
	// depend on the build host's mke2fs.conf.
	ext4BlockSize  = 4096
	ext4InodeSize  = 256
	ext4InodeRatio = 16384
	ext4Reserved   = 5 // percent reserved for root, mke2fs's default

	// DefaultHeadroom is the free space a computed root file system keeps.
	// Cloud images grow to their volume at first boot; this is what a
	// local VM gets without resizing.
	DefaultHeadroom = 1 * gib
)

// layout is where everything lives on the disk, in bytes.
type layout struct {
	DiskSize             int64
	ESPStart, ESPSize    int64
	RootStart, RootSize  int64
	RootInodes           int64
	JournalSize          int64
	RootNeeded           int64 // smallest root file system that holds the tree
	ContentBytes, Inodes int64 // what the tree needs, for messages
}

// planLayout sizes the ESP for the boot files and the root file system for
// the tree, then either fits both into a fixed disk size or computes one.
func planLayout(t *tree, bootBytes int64, size Size) (layout, error) {
	if size.Fixed < 0 || size.Headroom < 0 {
		return layout{}, fmt.Errorf("disk: size: negative value %+v", size)
	}
	headroom := size.Headroom
	if headroom == 0 {
		headroom = DefaultHeadroom
	}
	l := layout{ContentBytes: t.dataBytes, Inodes: t.inodes}
	l.ESPStart = align
	l.ESPSize = max(espMinSize, roundUp(2*bootBytes+32*mib, align))

	if size.Fixed == 0 {
		l.RootNeeded = rootSize(t, 0)
		l.RootSize = rootSize(t, headroom)
		l.DiskSize = align + l.ESPSize + l.RootSize + align
	} else {
		if size.Fixed%align != 0 {
			return layout{}, fmt.Errorf("disk: fixed size %d is not a multiple of 1 MiB", size.Fixed)
		}
		l.RootNeeded = rootSize(t, 0)
		l.DiskSize = size.Fixed
		l.RootSize = size.Fixed - 2*align - l.ESPSize
		if l.RootSize < l.RootNeeded {
			return layout{}, fmt.Errorf("disk: fixed size %d MiB is too small: the rootfs (%d MiB in %d inodes) needs a disk of at least %d MiB",
				size.Fixed/mib, t.dataBytes/mib, t.inodes, (2*align+l.ESPSize+l.RootNeeded)/mib)
		}
	}
	l.RootStart = l.ESPStart + l.ESPSize
	l.JournalSize = journalSize(l.RootSize)
	l.RootInodes = max(l.RootSize/ext4InodeRatio, minInodes(t))
	return l, nil
}

// rootSize estimates the ext4 file system that holds the tree with free
// bytes to spare: contents and inode tables, divided by what is left after
// the reserved blocks and metadata (bitmaps, group descriptors, directory
// and extent blocks, a margin), plus the journal.
func rootSize(t *tree, free int64) int64 {
	payload := t.dataBytes + free + minInodes(t)*ext4InodeSize
	usable := int64(100 - ext4Reserved - 2 /* inode tables at the default ratio */ - 3 /* metadata, margin */)
	fs := payload*100/usable + 16*mib
	fs += journalSize(fs)
	return roundUp(fs, align)
}

// minInodes leaves a quarter of the tree's inode count free, and at least a
// thousand inodes.
func minInodes(t *tree) int64 { return t.inodes + t.inodes/4 + 1024 }

// journalSize pins mke2fs's default journal sizes for small file systems
// and caps it at 64 MiB, so that the estimate is exact.
func journalSize(fs int64) int64 {
	switch {
	case fs < 128*mib:
		return 4 * mib
	case fs < gib:
		return 16 * mib
	default:
		return 64 * mib
	}
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }
