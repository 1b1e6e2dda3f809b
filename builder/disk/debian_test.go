package disk

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xroad-appliance/test/base"
)

// TestDebianDisk writes every format from a Debian 12 rootfs with a real
// kernel, initrd and systemd-boot, checks the result with go-diskfs, the
// fsck tools and qemu-img, and writes the raw disk again to compare.
func TestDebianDisk(t *testing.T) {
	needCommands(t, "mkfs.ext4", "debugfs", "e2fsck", "fsck.vfat", "qemu-img")
	rootfs := bootableRootfs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	before, err := scanTree(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	fstabBefore, _ := os.ReadFile(filepath.Join(rootfs, "etc/fstab"))

	opts := Options{
		Formats:         Formats,
		Name:            "securityserver",
		SourceDateEpoch: testEpoch,
		Size:            Size{Headroom: 512 * mib},
		Boot:            testBoot,
		// Every target's drivers, checked in Debian's real initrd.
		Drivers:  guestOf("debian-12", "raw", "qcow2", "vmdk", "vhd", "gce", "ova").Drivers,
		Progress: func(s string) { t.Log(s) },
	}
	start := time.Now()
	res, err := Write(ctx, rootfs, filepath.Join(t.TempDir(), "out"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("all formats in %s", time.Since(start).Round(time.Millisecond))
	for _, o := range res.Outputs {
		t.Logf("%-6s %5d MiB %s", o.Format, o.Size/mib, o.SHA256)
	}

	after, err := scanTree(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	fstabAfter, _ := os.ReadFile(filepath.Join(rootfs, "etc/fstab"))
	if after.fingerprint != before.fingerprint || !bytes.Equal(fstabBefore, fstabAfter) {
		t.Error("Write changed the rootfs directory")
	}

	raw := res.Output(Raw).Path
	table := gptOf(t, raw, res)
	fsck(t, raw, table)
	checkConverted(t, res)

	boot, err := findBootFiles(rootfs, testBoot)
	if err != nil {
		t.Fatal(err)
	}
	if res.KernelVersion != boot.KernelVersion {
		t.Errorf("kernel %s, want %s", res.KernelVersion, boot.KernelVersion)
	}
	dir := "/debian/" + boot.KernelVersion
	for espPath, hostPath := range map[string]string{
		"/EFI/BOOT/BOOTX64.EFI": boot.Loader,
		dir + "/vmlinuz":        boot.Kernel,
		dir + "/initrd.img":     boot.Initrd,
	} {
		want, err := os.ReadFile(hostPath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(espFileOf(t, raw, espPath), want) {
			t.Errorf("ESP %s differs from %s", espPath, hostPath)
		}
	}
	entry := string(espFileOf(t, raw, "/loader/entries/debian-"+boot.KernelVersion+".conf"))
	if !strings.Contains(entry, "options root=PARTUUID="+res.RootPartUUID+" ro") ||
		!strings.Contains(entry, "title   Debian GNU/Linux 12 (bookworm)") {
		t.Errorf("loader entry:\n%s", entry)
	}
	if got := debugfsRoot(t, raw, table, "cat /etc/fstab"); !strings.Contains(got, "PARTUUID="+res.RootPartUUID+" /  ") {
		t.Errorf("/etc/fstab in the image:\n%s", got)
	}
	if got := debugfsRoot(t, raw, table, "stat /boot/efi"); !strings.Contains(got, "Type: directory") {
		t.Errorf("/boot/efi: %s", got)
	}

	start = time.Now()
	opts.Formats = []Format{Raw}
	again, err := Write(ctx, rootfs, filepath.Join(t.TempDir(), "again"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("raw again in %s", time.Since(start).Round(time.Millisecond))
	if again.Output(Raw).SHA256 != res.Output(Raw).SHA256 {
		t.Errorf("raw sha256 %s, then %s", res.Output(Raw).SHA256, again.Output(Raw).SHA256)
	}
}

// TestDebianBaseIsNotBootable: the plain base has neither kernel nor boot
// loader, and Write says so before writing anything.
func TestDebianBaseIsNotBootable(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the cached Debian base")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to build the base")
	}
	baseDir, err := base.Bootstrap(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	_, err = Write(context.Background(), baseDir, out, Options{Formats: []Format{Raw}, Name: "x", SourceDateEpoch: testEpoch, Boot: testBoot})
	if err == nil {
		t.Fatal("no error for a rootfs without kernel and boot loader")
	}
	for _, want := range []string{"no kernel /boot/vmlinuz-*", "no UEFI boot loader " + testBoot.Bootloader} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	onlyOutputs(t, out, nil)
}

// BenchmarkRawDisk writes the raw disk of the bootable Debian rootfs.
func BenchmarkRawDisk(b *testing.B) {
	rootfs := bootableRootfs(b)
	t, err := scanTree(rootfs)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(t.dataBytes)
	opts := Options{Formats: []Format{Raw}, Name: "bench", SourceDateEpoch: testEpoch, Size: Size{Headroom: 512 * mib}, Boot: testBoot}
	for b.Loop() {
		out, err := os.MkdirTemp("", "disk-bench-")
		if err != nil {
			b.Fatal(err)
		}
		_, err = Write(context.Background(), rootfs, out, opts)
		os.RemoveAll(out)
		if err != nil {
			b.Fatal(err)
		}
	}
}
