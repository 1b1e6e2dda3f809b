package disk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// newc writes one uncompressed newc cpio archive of the named files.
func newc(files map[string][]byte, order []string) []byte {
	var b bytes.Buffer
	ino := 1
	entry := func(name string, mode int, data []byte) {
		fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
		ino++
		b.WriteString(name + "\x00")
		b.Write(make([]byte, pad4(int64(110+len(name)+1))))
		b.Write(data)
		b.Write(make([]byte, pad4(int64(len(data)))))
	}
	for _, n := range order {
		entry(n, 0o100644, files[n])
	}
	entry("TRAILER!!!", 0, nil)
	// Padded to a block, as cpio -H newc does.
	b.Write(make([]byte, int(roundUp(int64(b.Len()), 512))-b.Len()))
	return b.Bytes()
}

// fakeInitrd replaces the fake rootfs's initrd with what initramfs-tools
// writes: an uncompressed early archive, then a gzipped main archive with
// the modules; builtin modules go into modules.builtin.
func fakeInitrd(t *testing.T, rootfs string, modules, builtin []string) {
	t.Helper()
	early := newc(map[string][]byte{"kernel/x86/microcode/GenuineIntel.bin": []byte("microcode")}, []string{"kernel/x86/microcode/GenuineIntel.bin"})
	files := map[string][]byte{"init": []byte("#!/bin/sh\n")}
	order := []string{"init"}
	for _, m := range modules {
		p := "usr/lib/modules/" + fakeKernel + "/kernel/drivers/" + m + ".ko.zst"
		files[p] = []byte("module " + m)
		order = append(order, p)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(newc(files, order))
	zw.Close()
	if err := os.WriteFile(filepath.Join(rootfs, "boot/initrd.img-"+fakeKernel), append(early, z.Bytes()...), 0o644); err != nil {
		t.Fatal(err)
	}
	var list strings.Builder
	for _, m := range builtin {
		fmt.Fprintf(&list, "kernel/drivers/%s.ko\n", m)
	}
	dir := filepath.Join(rootfs, "usr/lib/modules", fakeKernel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInitrdModules(t *testing.T) {
	rootfs := fakeRootfs(t)
	fakeInitrd(t, rootfs, []string{"net/ena", "scsi/hv-storvsc"}, []string{"block/virtio_blk"})
	mods, err := initrdModules(filepath.Join(rootfs, "boot/initrd.img-"+fakeKernel))
	if err != nil {
		t.Fatal(err)
	}
	if !mods["ena"] || !mods["hv_storvsc"] || len(mods) != 2 {
		t.Errorf("modules %v, want ena and hv_storvsc", mods)
	}
	b := &bootFiles{Initrd: filepath.Join(rootfs, "boot/initrd.img-"+fakeKernel), KernelVersion: fakeKernel}
	if found, err := checkDrivers(rootfs, b, []string{"ena", "hv_storvsc", "virtio_blk"}); err != nil {
		t.Errorf("present drivers refused: %v", err)
	} else if want := "in the initrd: ena, hv_storvsc; built into the kernel: virtio_blk"; !strings.Contains(found, want) {
		t.Errorf("found %q, want it to say %q", found, want)
	}
	_, err = checkDrivers(rootfs, b, []string{"ena", "gve", "vmxnet3"})
	if err == nil || !strings.Contains(err.Error(), "lacks the drivers gve, vmxnet3") {
		t.Errorf("missing drivers: error %v, want one naming gve and vmxnet3", err)
	}
	// Random bytes are no initrd.
	b.Initrd = filepath.Join(rootfs, "usr/bin/tool")
	if _, err := checkDrivers(rootfs, b, []string{"ena"}); err == nil {
		t.Error("an initrd of random bytes passed")
	}
}

func TestWriteRefusesMissingDrivers(t *testing.T) {
	needCommands(t, "mkfs.ext4", "debugfs", "qemu-img")
	rootfs := fakeRootfs(t)
	fakeInitrd(t, rootfs, []string{"net/ena"}, nil)
	opts := fastOptions(Raw)
	opts.Drivers = []string{"ena", "nvme"}
	out := filepath.Join(t.TempDir(), "out")
	_, err := Write(context.Background(), rootfs, out, opts)
	if err == nil || !strings.Contains(err.Error(), "lacks the drivers nvme") {
		t.Fatalf("error %v, want one naming nvme", err)
	}
	onlyOutputs(t, out, nil)
}

// TestCloudOutputs writes every output of a small disk and inspects each
// with other tools than the build's own checks: qemu-img info, GNU tar's
// listing and extraction, sha256sum, and the OVF parsed on its own.
func TestCloudOutputs(t *testing.T) {
	needCommands(t, "mkfs.ext4", "debugfs", "qemu-img", "tar", "sha256sum", "cmp")
	rootfs := fakeRootfs(t)
	fakeInitrd(t, rootfs, []string{"net/ena", "nvme/host/nvme"}, []string{"block/virtio_blk"})
	if err := os.MkdirAll(filepath.Join(rootfs, cloudCfgDir), 0o755); err != nil {
		t.Fatal(err)
	}
	// What Debian's and Ubuntu's cloud-init package ship: every datasource.
	dpkg := filepath.Join(rootfs, cloudCfgDir, "90_dpkg.cfg")
	if err := os.WriteFile(dpkg, []byte("datasource_list: [ NoCloud, ConfigDrive, Azure, GCE, OpenStack, Ec2, None ]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := fastOptions(Formats...)
	opts.Drivers = []string{"ena", "nvme", "virtio_blk"}
	opts.Datasources = []string{"NoCloud", "Ec2"}
	opts.KernelArgs = []string{"console=ttyS0,115200n8", "nvme_core.io_timeout=4294967295"}
	out := filepath.Join(t.TempDir(), "out")
	res, err := Write(context.Background(), rootfs, out, opts)
	if err != nil {
		t.Fatal(err)
	}
	onlyOutputs(t, out, res)
	if len(res.Outputs) != len(Formats) {
		t.Fatalf("%d outputs, want %d", len(res.Outputs), len(Formats))
	}
	raw := res.Output(Raw).Path
	table := gptOf(t, raw, res)
	if got := debugfsRoot(t, raw, table, "cat "+cloudCfgFile); !strings.Contains(got, "datasource_list: [NoCloud, Ec2, None]\n") {
		t.Errorf("%s:\n%s", cloudCfgFile, got)
	}
	entry := string(espFileOf(t, raw, "/loader/entries/debian-"+fakeKernel+".conf"))
	if !strings.Contains(entry, " ro console=ttyS0,115200n8 nvme_core.io_timeout=4294967295\n") {
		t.Errorf("loader entry:\n%s", entry)
	}

	for _, f := range []Format{Raw, QCOW2, VMDK, VHD} {
		info := inspectImage(t, res.Output(f).Path, qemuFormat[f])
		if info.Format != qemuFormat[f] || info.VirtualSize != res.DiskSize {
			t.Errorf("%s: qemu-img says %s of %d bytes, want %s of %d", f, info.Format, info.VirtualSize, qemuFormat[f], res.DiskSize)
		}
		if f == VMDK && info.FormatSpecific.Data.CreateType != "streamOptimized" {
			t.Errorf("vmdk: create type %q", info.FormatSpecific.Data.CreateType)
		}
	}
	// Azure: fixed VHD, a whole number of MiB, the file the size plus the
	// footer.
	vhd := res.Output(VHD)
	if res.DiskSize%mib != 0 || vhd.Size != res.DiskSize+512 {
		t.Errorf("vhd: %d bytes for a disk of %d", vhd.Size, res.DiskSize)
	}

	// GCE: exactly disk.raw, oldgnu, sparse, the raw disk's bytes.
	gce := res.Output(GCE).Path
	if filepath.Base(gce) != "appliance.gce.tar.gz" {
		t.Errorf("GCE archive named %s", filepath.Base(gce))
	}
	list := sh(t, "tar", "--list", "--verbose", "--numeric-owner", "--file", gce)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 1 || !strings.HasSuffix(lines[0], " disk.raw") || !strings.Contains(lines[0], " 0/0 ") ||
		!strings.Contains(lines[0], " "+strconv.FormatInt(res.DiskSize, 10)+" ") {
		t.Errorf("GCE tar listing:\n%s", list)
	}
	header := []byte(sh(t, "sh", "-c", "gzip -dc < "+gce+" | head -c 512"))
	if len(header) != 512 || string(header[257:265]) != "ustar  \x00" || header[156] != 'S' {
		t.Errorf("GCE tar header is not an oldgnu sparse member: magic %q type %q", header[257:265], header[156])
	}
	x := t.TempDir()
	sh(t, "tar", "--extract", "--sparse", "--file", gce, "--directory", x)
	sh(t, "cmp", raw, filepath.Join(x, "disk.raw"))
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(x, "disk.raw"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 >= res.DiskSize/2 {
		t.Errorf("extracted disk.raw takes %d bytes of %d: not sparse", st.Blocks*512, res.DiskSize)
	}

	// OVA: descriptor, disk, manifest; the OVF matches the disk.
	ova := res.Output(OVA).Path
	members := strings.Fields(sh(t, "tar", "--list", "--file", ova))
	if strings.Join(members, " ") != "appliance.ovf appliance-disk1.vmdk appliance.mf" {
		t.Fatalf("OVA members %q", members)
	}
	if v := sh(t, "sh", "-c", "head -c 512 "+ova+" | tail -c +258 | head -c 8"); v != "ustar\x0000" {
		t.Errorf("OVA first header magic %q, want POSIX ustar", v)
	}
	y := t.TempDir()
	sh(t, "tar", "--extract", "--file", ova, "--directory", y)
	ovfBytes, err := os.ReadFile(filepath.Join(y, "appliance.ovf"))
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		XMLName xml.Name
		File    struct {
			Href string `xml:"href,attr"`
			ID   string `xml:"id,attr"`
			Size int64  `xml:"size,attr"`
		} `xml:"References>File"`
		Disk struct {
			Capacity int64  `xml:"capacity,attr"`
			Units    string `xml:"capacityAllocationUnits,attr"`
			FileRef  string `xml:"fileRef,attr"`
			Format   string `xml:"format,attr"`
		} `xml:"DiskSection>Disk"`
		Firmware []struct {
			Key   string `xml:"key,attr"`
			Value string `xml:"value,attr"`
		} `xml:"VirtualSystem>VirtualHardwareSection>Config"`
	}
	if err := xml.Unmarshal(ovfBytes, &env); err != nil {
		t.Fatalf("OVF: %v\n%s", err, ovfBytes)
	}
	vmdkFile := filepath.Join(y, "appliance-disk1.vmdk")
	fi, err := os.Stat(vmdkFile)
	if err != nil {
		t.Fatal(err)
	}
	if env.XMLName.Space != "http://schemas.dmtf.org/ovf/envelope/1" || env.XMLName.Local != "Envelope" {
		t.Errorf("OVF root %v", env.XMLName)
	}
	if env.File.Href != "appliance-disk1.vmdk" || env.File.Size != fi.Size() || env.Disk.FileRef != env.File.ID {
		t.Errorf("OVF File %+v, Disk %+v; the member has %d bytes", env.File, env.Disk, fi.Size())
	}
	if env.Disk.Capacity != res.DiskSize || env.Disk.Units != "byte" || !strings.HasSuffix(env.Disk.Format, "#streamOptimized") {
		t.Errorf("OVF Disk %+v, want %d bytes stream-optimized", env.Disk, res.DiskSize)
	}
	if len(env.Firmware) != 1 || env.Firmware[0].Key != "firmware" || env.Firmware[0].Value != "efi" {
		t.Errorf("OVF firmware %+v, want efi", env.Firmware)
	}
	if info := inspectImage(t, vmdkFile, "vmdk"); info.VirtualSize != res.DiskSize || info.FormatSpecific.Data.CreateType != "streamOptimized" {
		t.Errorf("OVA disk: %+v", info)
	}
	sh(t, "sh", "-c", "cd "+y+" && sed 's/^SHA256(\\(.*\\))= \\(.*\\)$/\\2  \\1/' appliance.mf | sha256sum --check --strict")
	if mf, _ := os.ReadFile(filepath.Join(y, "appliance.mf")); strings.Count(string(mf), "\n") != 2 {
		t.Errorf("manifest:\n%s", mf)
	}
}

func inspectImage(t *testing.T, path, format string) imageInfo {
	t.Helper()
	var info imageInfo
	data := sh(t, "qemu-img", "info", "--output=json", "-f", format, path)
	if err := json.Unmarshal([]byte(data), &info); err != nil {
		t.Fatal(err)
	}
	return info
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

func TestVHDCheckRefusesUnaligned(t *testing.T) {
	needCommands(t, "qemu-img")
	dir := t.TempDir()
	mk := func(name, opts string, size int64) string {
		p := filepath.Join(dir, name)
		sh(t, "qemu-img", "create", "-q", "-f", "vpc", "-o", opts, p, strconv.FormatInt(size, 10))
		return p
	}
	good := mk("good.vhd", "subformat=fixed,force_size=on", 8*mib)
	if err := checkVHD(good); err != nil {
		t.Errorf("an aligned fixed VHD refused: %v", err)
	}
	// 8 MiB and one sector: qemu-img takes it, Azure would not.
	unaligned := mk("unaligned.vhd", "subformat=fixed,force_size=on", 8*mib+512)
	err := checkVHD(unaligned)
	if err == nil || !strings.Contains(err.Error(), "not a whole number of MiB") || !strings.Contains(err.Error(), strconv.FormatInt(9*mib, 10)) {
		t.Errorf("unaligned VHD: error %v, want one saying it is not a whole number of MiB and the size to round up to", err)
	}
	if err := checkImage(context.Background(), unaligned, VHD, 8*mib+512, ""); err == nil {
		t.Error("checkImage passed the unaligned VHD")
	}
	dynamic := mk("dynamic.vhd", "subformat=dynamic,force_size=on", 8*mib)
	if err := checkVHD(dynamic); err == nil || !strings.Contains(err.Error(), "fixed") {
		t.Errorf("dynamic VHD: error %v, want one asking for a fixed VHD", err)
	}
	// A footer whose checksum no longer matches.
	data, _ := os.ReadFile(good)
	data[len(data)-512+24]++
	bad := filepath.Join(dir, "bad.vhd")
	os.WriteFile(bad, data, 0o644)
	if err := checkVHD(bad); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("bad checksum: error %v", err)
	}
}

func TestGCECheckRefuses(t *testing.T) {
	dir := t.TempDir()
	disk := bytes.Repeat([]byte{1}, 4096)
	sum := sha256.Sum256(disk)
	rawSum := hex.EncodeToString(sum[:])
	write := func(name string, format tar.Format, members ...string) string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		tw := tar.NewWriter(zw)
		for _, m := range members {
			tw.WriteHeader(&tar.Header{Name: m, Size: int64(len(disk)), Mode: 0o644, Typeflag: tar.TypeReg, Format: format})
			tw.Write(disk)
		}
		tw.Close()
		zw.Close()
		p := filepath.Join(dir, name)
		os.WriteFile(p, b.Bytes(), 0o644)
		return p
	}
	for name, p := range map[string]string{
		"ustar":          write("ustar.tar.gz", tar.FormatUSTAR, "disk.raw"),
		"gnu not sparse": write("gnu.tar.gz", tar.FormatGNU, "disk.raw"),
	} {
		if err := checkGCE(p, int64(len(disk)), rawSum); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
	notGzip := filepath.Join(dir, "plain.tar")
	os.WriteFile(notGzip, disk, 0o644)
	if err := checkGCE(notGzip, int64(len(disk)), rawSum); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("not gzip: %v", err)
	}
}

func TestGCEArchiveWithGNUTar(t *testing.T) {
	needCommands(t, "tar")
	dir := t.TempDir()
	raw := filepath.Join(dir, "x.raw")
	f, _ := os.Create(raw)
	f.Truncate(64 * mib)
	f.WriteAt(bytes.Repeat([]byte{7}, 8192), 3*mib)
	f.Close()
	sum, err := fileSHA256(raw)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "x.gce.tar.gz")
	if err := writeGCE(context.Background(), raw, dst, dir, testEpoch); err != nil {
		t.Fatal(err)
	}
	if err := checkGCE(dst, 64*mib, sum); err != nil {
		t.Fatal(err)
	}
	if err := checkGCE(dst, 64*mib, strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("another disk's sum: %v", err)
	}
	if fi, _ := os.Stat(dst); fi.Size() > 64<<10 {
		t.Errorf("archive of a 64 MiB disk with 8 KiB of data is %d bytes: holes stored", fi.Size())
	}
	// Nothing of the work directory is left.
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("work directory holds %d entries", len(entries))
	}
}

func TestOVACheckRefuses(t *testing.T) {
	needCommands(t, "qemu-img")
	dir := t.TempDir()
	raw := filepath.Join(dir, "d.raw")
	f, _ := os.Create(raw)
	f.Truncate(16 * mib)
	f.Close()
	vmdk := filepath.Join(dir, "d.vmdk")
	sh(t, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, vmdk)
	sum, _ := fileSHA256(vmdk)
	ova := filepath.Join(dir, "a.ova")
	if err := writeOVA(vmdk, ova, "a", 16*mib, testEpoch); err != nil {
		t.Fatal(err)
	}
	if err := checkOVA(ova, "a", 16*mib, sum); err != nil {
		t.Fatalf("a good OVA refused: %v", err)
	}
	// A name XML must escape.
	odd := filepath.Join(dir, "odd.ova")
	if err := writeOVA(vmdk, odd, "R&D <x>", 16*mib, testEpoch); err != nil {
		t.Fatal(err)
	}
	if err := checkOVA(odd, "R&D <x>", 16*mib, sum); err != nil {
		t.Errorf("an OVA of an image name with & and <: %v", err)
	}
	if err := checkOVA(ova, "a", 32*mib, sum); err == nil || !strings.Contains(err.Error(), "capacity") {
		t.Errorf("capacity of another disk: %v", err)
	}

	// The same members, the manifest first.
	x := t.TempDir()
	sh(t, "tar", "--extract", "--file", ova, "--directory", x)
	reordered := filepath.Join(dir, "reordered.ova")
	sh(t, "tar", "--create", "--format=ustar", "--file", reordered, "--directory", x, "a.mf", "a.ovf", "a-disk1.vmdk")
	if err := checkOVA(reordered, "a", 16*mib, sum); err == nil || !strings.Contains(err.Error(), "in this order") {
		t.Errorf("manifest first: %v", err)
	}
	// A manifest that does not match.
	os.WriteFile(filepath.Join(x, "a.mf"), []byte("SHA256(a.ovf)= 00\n"), 0o644)
	tampered := filepath.Join(dir, "tampered.ova")
	sh(t, "tar", "--create", "--format=ustar", "--file", tampered, "--directory", x, "a.ovf", "a-disk1.vmdk", "a.mf")
	if err := checkOVA(tampered, "a", 16*mib, sum); err == nil || !strings.Contains(err.Error(), "a.mf") {
		t.Errorf("wrong manifest: %v", err)
	}
	// A descriptor that is not XML.
	os.WriteFile(filepath.Join(x, "a.ovf"), []byte("<Envelope"), 0o644)
	broken := filepath.Join(dir, "broken.ova")
	sh(t, "tar", "--create", "--format=ustar", "--file", broken, "--directory", x, "a.ovf", "a-disk1.vmdk", "a.mf")
	if err := checkOVA(broken, "a", 16*mib, sum); err == nil || !strings.Contains(err.Error(), "a.ovf") {
		t.Errorf("broken descriptor: %v", err)
	}
}

// TestDatasourceListIsReadLast: a snippet sorting after the disk's own that
// sets datasource_list again would undo it; the build refuses it by name.
func TestDatasourceListIsReadLast(t *testing.T) {
	rootfs := fakeRootfs(t)
	dir := filepath.Join(rootfs, cloudCfgDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := []string{"90_dpkg.cfg", filepath.Base(cloudCfgFile)}; !sort.StringsAreSorted(got) {
		t.Fatalf("%s sorts before 90_dpkg.cfg", cloudCfgFile)
	}
	os.WriteFile(filepath.Join(dir, "90_dpkg.cfg"), []byte("datasource_list: [ Ec2, None ]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "99_zz-other.cfg"), []byte("# nothing about datasources\n"), 0o644)
	if err := checkDatasourceOverride(rootfs); err != nil {
		t.Errorf("earlier and unrelated snippets refused: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "99_zz-late.cfg"), []byte("datasource_list: [ Ec2 ]\n"), 0o644)
	opts := fastOptions(Raw)
	opts.Datasources = []string{"NoCloud"}
	out := filepath.Join(t.TempDir(), "out")
	_, err := Write(context.Background(), rootfs, out, opts)
	if err == nil || !strings.Contains(err.Error(), "99_zz-late.cfg sets datasource_list") {
		t.Errorf("error %v, want one naming 99_zz-late.cfg", err)
	}
	onlyOutputs(t, out, nil)
}
