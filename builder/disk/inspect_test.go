package disk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// needCommands skips the test when an external program is missing.
func needCommands(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed", n)
		}
	}
}

// gptOf reads the partition table with go-diskfs and checks the layout
// Write promises: protective MBR, ESP then x86-64 root, the identifiers
// from res, and a valid backup header at the end of the disk.
func gptOf(t *testing.T, image string, res *Result) *gpt.Table {
	t.Helper()
	d, err := diskfs.Open(image, diskfs.WithOpenMode(diskfs.ReadOnly), diskfs.WithSectorSize(diskfs.SectorSize512))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Size != res.DiskSize {
		t.Errorf("disk size %d, result says %d", d.Size, res.DiskSize)
	}
	table, ok := d.Table.(*gpt.Table)
	if !ok {
		t.Fatalf("partition table is %T, want GPT", d.Table)
	}
	if err := table.Verify(d.Backend, uint64(d.Size)); err != nil {
		t.Errorf("backup GPT: %v", err)
	}
	if !table.ProtectiveMBR {
		t.Error("no protective MBR")
	}
	if !strings.EqualFold(table.GUID, res.DiskGUID) {
		t.Errorf("disk GUID %s, want %s", table.GUID, res.DiskGUID)
	}
	var parts []*gpt.Partition
	for _, p := range table.Partitions {
		if p.Type != gpt.Unused {
			parts = append(parts, p)
		}
	}
	if len(parts) != 2 {
		t.Fatalf("%d partitions, want 2: %+v", len(parts), parts)
	}
	esp, root := parts[0], parts[1]
	if esp.Type != gpt.EFISystemPartition || !strings.EqualFold(esp.GUID, res.ESPPartUUID) {
		t.Errorf("partition 1: type %s GUID %s, want ESP %s", esp.Type, esp.GUID, res.ESPPartUUID)
	}
	if root.Type != gpt.LinuxRootX86_64 || !strings.EqualFold(root.GUID, res.RootPartUUID) {
		t.Errorf("partition 2: type %s GUID %s, want x86-64 root %s", root.Type, root.GUID, res.RootPartUUID)
	}
	for _, p := range parts {
		if int64(p.Start)*sectorSize%mib != 0 || int64(p.End+1)*sectorSize%mib != 0 {
			t.Errorf("partition %d is not 1 MiB aligned: sectors %d..%d", p.Index, p.Start, p.End)
		}
	}
	if esp.End >= root.Start {
		t.Errorf("partitions overlap: %d..%d and %d..%d", esp.Start, esp.End, root.Start, root.End)
	}
	return table
}

// espFileOf reads a file from the ESP with go-diskfs.
func espFileOf(t *testing.T, image, path string) []byte {
	t.Helper()
	d, err := diskfs.Open(image, diskfs.WithOpenMode(diskfs.ReadOnly), diskfs.WithSectorSize(diskfs.SectorSize512))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fs, err := d.GetFilesystem(1)
	if err != nil {
		t.Fatalf("ESP: %v", err)
	}
	if got := strings.TrimSpace(fs.Label()); got != espLabel {
		t.Errorf("ESP label %q, want %q", got, espLabel)
	}
	f, err := fs.OpenFile(path, os.O_RDONLY)
	if err != nil {
		t.Fatalf("ESP %s: %v", path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("ESP %s: %v", path, err)
	}
	return data
}

// extractPartition copies partition p of image into its own sparse file,
// for the fsck tools, which take no offset.
func extractPartition(t *testing.T, image string, p *gpt.Partition) string {
	t.Helper()
	in, err := os.Open(image)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(filepath.Join(t.TempDir(), "part"+strconv.Itoa(p.Index)+".img"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	size := int64(p.End-p.Start+1) * sectorSize
	src := io.NewSectionReader(in, int64(p.Start)*sectorSize, size)
	buf, zero := make([]byte, mib), make([]byte, mib)
	for off := int64(0); off < size; off += mib {
		n, err := src.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], zero[:n]) {
			if _, err := out.WriteAt(buf[:n], off); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := out.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return out.Name()
}

// fsck runs fsck.vfat -n on the ESP and e2fsck -fn on the root partition.
func fsck(t *testing.T, image string, table *gpt.Table) {
	t.Helper()
	esp := extractPartition(t, image, table.Partitions[0])
	if out, err := exec.Command("fsck.vfat", "-n", esp).CombinedOutput(); err != nil {
		t.Errorf("fsck.vfat -n: %v\n%s", err, out)
	}
	root := extractPartition(t, image, table.Partitions[1])
	if out, err := exec.Command("e2fsck", "-fn", root).CombinedOutput(); err != nil {
		t.Errorf("e2fsck -fn: %v\n%s", err, out)
	}
}

// debugfsRoot runs one read-only debugfs request on the root file system.
func debugfsRoot(t *testing.T, image string, table *gpt.Table, request string) string {
	t.Helper()
	target := image + "?offset=" + strconv.FormatInt(int64(table.Partitions[1].Start)*sectorSize, 10)
	out, err := exec.Command("debugfs", "-R", request, target).Output()
	if err != nil {
		t.Fatalf("debugfs -R %q: %v", request, err)
	}
	return string(out)
}

// qemuInfo returns qemu-img's view of an output.
// A fixed VHD has no header for qemu-img to recognise, so the format is
// named rather than probed.
func qemuInfo(t *testing.T, path, format string) (string, int64) {
	t.Helper()
	out, err := exec.CommandContext(context.Background(), "qemu-img", "info", "-f", format, "--output=json", path).Output()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	var info struct {
		Format      string `json:"format"`
		VirtualSize int64  `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info.Format, info.VirtualSize
}

// qemuFormat is qemu-img's name for each format.
var qemuFormat = map[Format]string{Raw: "raw", QCOW2: "qcow2", VMDK: "vmdk", VHD: "vpc"}

// checkConverted checks every output with qemu-img info.
func checkConverted(t *testing.T, res *Result) {
	t.Helper()
	for _, o := range res.Outputs {
		if qemuFormat[o.Format] == "" {
			continue // archives: TestCloudOutputs opens them
		}
		format, size := qemuInfo(t, o.Path, qemuFormat[o.Format])
		if format != qemuFormat[o.Format] || size != res.DiskSize {
			t.Errorf("%s: qemu-img says %s of %d bytes, want %s of %d", o.Path, format, size, qemuFormat[o.Format], res.DiskSize)
		}
	}
}

// onlyOutputs fails unless dir holds exactly the outputs of res: no
// staging directory or temporary file left behind.
func onlyOutputs(t *testing.T, dir string, res *Result) {
	t.Helper()
	want := map[string]bool{}
	if res != nil {
		for _, o := range res.Outputs {
			want[filepath.Base(o.Path)] = true
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("%s holds %s", dir, e.Name())
		}
	}
}
