package disk

import (
	"strings"
	"testing"
)

func TestPlanLayoutComputed(t *testing.T) {
	tr := &tree{dataBytes: 1100 * mib, inodes: 30000}
	l, err := planLayout(tr, 50*mib, Size{})
	if err != nil {
		t.Fatal(err)
	}
	if l.ESPStart != mib || l.ESPSize != espMinSize || l.RootStart != mib+espMinSize {
		t.Errorf("ESP at %d size %d, root at %d", l.ESPStart, l.ESPSize, l.RootStart)
	}
	if l.DiskSize != l.RootStart+l.RootSize+mib || l.DiskSize%mib != 0 {
		t.Errorf("disk %d does not end 1 MiB after the root (%d + %d)", l.DiskSize, l.RootStart, l.RootSize)
	}
	if free := l.RootSize - l.RootNeeded; free < DefaultHeadroom {
		t.Errorf("root keeps %d MiB free, want at least %d", free/mib, DefaultHeadroom/mib)
	}
	if l.RootInodes < tr.inodes || l.JournalSize != 64*mib {
		t.Errorf("inodes %d, journal %d", l.RootInodes, l.JournalSize)
	}

	big, err := planLayout(tr, 200*mib, Size{Headroom: mib})
	if err != nil {
		t.Fatal(err)
	}
	if big.ESPSize != 432*mib {
		t.Errorf("ESP for 200 MiB of boot files: %d MiB, want 432", big.ESPSize/mib)
	}
}

func TestPlanLayoutFixed(t *testing.T) {
	tr := &tree{dataBytes: 1100 * mib, inodes: 30000}
	l, err := planLayout(tr, 50*mib, Size{Fixed: 8 * gib})
	if err != nil {
		t.Fatal(err)
	}
	if l.DiskSize != 8*gib || l.RootStart+l.RootSize != 8*gib-mib {
		t.Errorf("layout %+v", l)
	}
	for _, tc := range []struct {
		size int64
		want string
	}{
		{gib, "too small"},
		{8*gib + 1, "multiple of 1 MiB"},
		{-1, "negative"},
	} {
		if _, err := planLayout(tr, 50*mib, Size{Fixed: tc.size}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("fixed %d: error %v, want %q", tc.size, err, tc.want)
		}
	}
}

func TestDeriveIDs(t *testing.T) {
	var fp [32]byte
	a := deriveIDs("ss", 1, fp, 2*gib)
	if a != deriveIDs("ss", 1, fp, 2*gib) {
		t.Error("same inputs, different IDs")
	}
	seen := map[string]bool{}
	for _, other := range []ids{a, deriveIDs("cs", 1, fp, 2*gib), deriveIDs("ss", 2, fp, 2*gib), deriveIDs("ss", 1, [32]byte{1}, 2*gib), deriveIDs("ss", 1, fp, 3*gib)} {
		for _, u := range []string{other.Disk, other.ESP, other.Root, other.RootFS, other.HashSeed, other.VHD} {
			if seen[u] {
				t.Errorf("UUID %s derived twice", u)
			}
			seen[u] = true
			if len(u) != 36 || u[14] != '4' || !strings.ContainsRune("89ab", rune(u[19])) {
				t.Errorf("%s is not laid out as a version 4 UUID", u)
			}
		}
	}
	if len(a.VMDKCID) != 8 {
		t.Errorf("VMDK CID %q", a.VMDKCID)
	}
}
