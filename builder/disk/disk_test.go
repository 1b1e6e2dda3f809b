package disk

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testEpoch is the source date of the tests: 2024-01-01T00:00:00Z.
const testEpoch = 1704067200

// fakeKernel is the newest of the fake rootfs's kernels.
const fakeKernel = "6.1.0-10-amd64"

// fakeRootfs makes a small rootfs with stand-ins for the kernel, initrd and
// systemd-boot (random bytes: the disk is checked, not booted) and the
// awkward cases: names debugfs must quote, a hard link, a symlink, a setuid
// file, a file newer than the source date, an fstab to be replaced.
func fakeRootfs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	blob := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	files := map[string][]byte{
		"boot/vmlinuz-6.1.0-9-amd64":                   blob(100 << 10),
		"boot/initrd.img-6.1.0-9-amd64":                blob(100 << 10),
		"boot/vmlinuz-" + fakeKernel:                   blob(300 << 10),
		"boot/initrd.img-" + fakeKernel:                blob(700 << 10),
		"usr/lib/systemd/boot/efi/systemd-bootx64.efi": blob(120 << 10),
		"usr/lib/os-release":                           []byte("ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
		"etc/fstab":                                    []byte("# UNCONFIGURED FSTAB FOR BASE SYSTEM\n"),
		"etc/hostname":                                 []byte("localhost\n"),
		`odd/with space, "quotes" and \backslash`:      []byte("odd\n"),
		"usr/bin/tool":                                 blob(50 << 10),
		"var/lib/new":                                  []byte("newer than the source date\n"),
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("../usr/lib/os-release", filepath.Join(root, "etc/os-release")))
	must(os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "usr/bin/tool-link")))
	must(os.Chmod(filepath.Join(root, "usr/bin/tool"), os.ModeSetuid|0o755))
	future := time.Unix(testEpoch+365*24*3600, 0)
	must(os.Chtimes(filepath.Join(root, "var/lib/new"), future, future))
	return root
}

// snapshot records a tree's metadata and every file's contents, to prove
// Write leaves its input alone.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	tr, err := scanTree(root)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.Write(tr.fingerprint[:])
	for _, e := range tr.entries {
		if data, err := os.ReadFile(filepath.Join(root, e.path)); err == nil {
			b.Write(data)
		}
	}
	return b.String()
}

func fastOptions(formats ...Format) Options {
	return Options{Formats: formats, Name: "appliance", SourceDateEpoch: testEpoch, Size: Size{Headroom: 16 * mib}, Boot: testBoot}
}

func TestWriteSmallRootfs(t *testing.T) {
	needCommands(t, "mkfs.ext4", "debugfs", "e2fsck", "fsck.vfat", "qemu-img")
	rootfs := fakeRootfs(t)
	before := snapshot(t, rootfs)
	out := filepath.Join(t.TempDir(), "out")
	var progress []string
	opts := fastOptions(Raw, QCOW2, VMDK, VHD)
	opts.KernelArgs = []string{"quiet"}
	opts.Progress = func(s string) { progress = append(progress, s) }

	res, err := Write(context.Background(), rootfs, out, opts)
	if err != nil {
		t.Fatal(err)
	}
	if snapshot(t, rootfs) != before {
		t.Error("Write changed the rootfs directory")
	}
	onlyOutputs(t, out, res)
	if len(res.Outputs) != 4 || res.KernelVersion != fakeKernel {
		t.Fatalf("result %+v", res)
	}
	if len(progress) == 0 {
		t.Error("no progress lines")
	}
	raw := res.Output(Raw).Path
	table := gptOf(t, raw, res)
	fsck(t, raw, table)
	checkConverted(t, res)

	// ESP: the loader, the entry and the newest kernel with its initrd.
	read := func(p string) []byte {
		data, err := os.ReadFile(filepath.Join(rootfs, p))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if !bytes.Equal(espFileOf(t, raw, "/EFI/BOOT/BOOTX64.EFI"), read(testBoot.Bootloader)) {
		t.Error("BOOTX64.EFI is not systemd-boot from the rootfs")
	}
	if !bytes.Equal(espFileOf(t, raw, "/debian/"+fakeKernel+"/vmlinuz"), read("boot/vmlinuz-"+fakeKernel)) {
		t.Error("ESP kernel differs from /boot's")
	}
	if !bytes.Equal(espFileOf(t, raw, "/debian/"+fakeKernel+"/initrd.img"), read("boot/initrd.img-"+fakeKernel)) {
		t.Error("ESP initrd differs from /boot's")
	}
	loader := string(espFileOf(t, raw, "/loader/loader.conf"))
	if !strings.Contains(loader, "default debian-"+fakeKernel+".conf") || !strings.Contains(loader, "editor no") {
		t.Errorf("loader.conf:\n%s", loader)
	}
	entry := string(espFileOf(t, raw, "/loader/entries/debian-"+fakeKernel+".conf"))
	for _, want := range []string{
		"title   Debian GNU/Linux 12 (bookworm)",
		"linux   /debian/" + fakeKernel + "/vmlinuz",
		"initrd  /debian/" + fakeKernel + "/initrd.img",
		"options root=PARTUUID=" + res.RootPartUUID + " ro ",
		" quiet\n",
	} {
		if !strings.Contains(entry, want) {
			t.Errorf("loader entry lacks %q:\n%s", want, entry)
		}
	}

	// Root: the disk's fstab, the ESP mount point, the odd names, and the
	// timestamps normalised.
	if got := debugfsRoot(t, raw, table, "cat /etc/fstab"); got != string(fstab(ids{Root: res.RootPartUUID, ESP: res.ESPPartUUID})) {
		t.Errorf("/etc/fstab in the image:\n%s", got)
	}
	for _, p := range []string{"/boot/efi", `"/odd/with space, ""quotes"" and \backslash"`, "/usr/bin/tool-link"} {
		if got := debugfsRoot(t, raw, table, "stat "+p); !strings.Contains(got, "Inode:") {
			t.Errorf("stat %s: %s", p, got)
		}
	}
	stat := debugfsRoot(t, raw, table, "stat /usr/bin/tool")
	for _, want := range []string{"Mode:  04755", "Links: 2"} {
		if !strings.Contains(stat, want) {
			t.Errorf("/usr/bin/tool lacks %q:\n%s", want, stat)
		}
	}
	for _, p := range []string{"/var/lib/new", "/etc/fstab", "/boot/efi", "/"} {
		stat := debugfsRoot(t, raw, table, "stat "+p)
		for _, field := range []string{"ctime", "atime", "mtime", "crtime"} {
			if !strings.Contains(stat, fmt.Sprintf("%s: 0x%08x:", field, testEpoch)) {
				t.Errorf("%s %s is not the source date:\n%s", p, field, stat)
			}
		}
	}
}

func TestWriteIsReproducible(t *testing.T) {
	needCommands(t, "mkfs.ext4", "debugfs", "qemu-img")
	rootfs := fakeRootfs(t)
	opts := fastOptions(Formats...)
	first, err := Write(context.Background(), rootfs, filepath.Join(t.TempDir(), "a"), opts)
	if err != nil {
		t.Fatal(err)
	}
	// A copy made later has other ctimes and atimes, and the first build
	// read the files, changing their atimes.
	time.Sleep(1100 * time.Millisecond)
	copied := filepath.Join(t.TempDir(), "rootfs")
	if out, err := exec.Command("cp", "-a", rootfs, copied).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	second, err := Write(context.Background(), copied, filepath.Join(t.TempDir(), "b"), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range first.Outputs {
		if again := second.Output(o.Format); again.SHA256 != o.SHA256 {
			t.Errorf("%s: sha256 %s then %s", o.Format, o.SHA256, again.SHA256)
		}
	}

	opts.SourceDateEpoch++
	opts.Formats = []Format{Raw}
	third, err := Write(context.Background(), rootfs, filepath.Join(t.TempDir(), "c"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if third.Output(Raw).SHA256 == first.Output(Raw).SHA256 || third.RootPartUUID == first.RootPartUUID {
		t.Error("another source date gave the same disk")
	}
}

func TestWriteRefusesUnbootableRootfs(t *testing.T) {
	for _, tc := range []struct {
		remove []string
		want   []string
	}{
		{[]string{"boot"}, []string{"no kernel /boot/vmlinuz-*", "linux-image-amd64"}},
		{[]string{"boot/initrd.img-" + fakeKernel}, []string{"no initrd /boot/initrd.img-" + fakeKernel + " for kernel", "initramfs-tools"}},
		{[]string{"usr/lib/systemd"}, []string{"no UEFI boot loader " + testBoot.Bootloader, "systemd-boot"}},
		{[]string{"boot", "usr/lib/systemd"}, []string{"no kernel", "no UEFI boot loader"}},
	} {
		rootfs := fakeRootfs(t)
		for _, p := range tc.remove {
			if err := os.RemoveAll(filepath.Join(rootfs, p)); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(t.TempDir(), "out")
		_, err := Write(context.Background(), rootfs, out, fastOptions(Raw))
		if err == nil {
			t.Fatalf("without %v: no error", tc.remove)
		}
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("without %v: error %q lacks %q", tc.remove, err, want)
			}
		}
		onlyOutputs(t, out, nil)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := Write(context.Background(), missing, t.TempDir(), fastOptions(Raw)); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing rootfs: error %v, want one naming %s", err, missing)
	}
}

func TestWriteLeavesNothingOnFailure(t *testing.T) {
	needCommands(t, "mkfs.ext4", "debugfs")
	rootfs := fakeRootfs(t)
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // mkfs.ext4 cannot even start
	if _, err := Write(ctx, rootfs, out, fastOptions(Raw, QCOW2)); err == nil {
		t.Fatal("no error with a cancelled context")
	}
	onlyOutputs(t, out, nil)

	// A name debugfs cannot be given.
	if err := os.WriteFile(filepath.Join(rootfs, "etc", "line\nbreak"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Write(context.Background(), rootfs, out, fastOptions(Raw))
	if err == nil || !strings.Contains(err.Error(), "line break") {
		t.Fatalf("error %v, want one naming the line break", err)
	}
	onlyOutputs(t, out, nil)
}

func TestWriteFixedSize(t *testing.T) {
	needCommands(t, "mkfs.ext4", "debugfs")
	rootfs := fakeRootfs(t)
	opts := fastOptions(Raw)
	opts.Size = Size{Fixed: 300 * mib}
	res, err := Write(context.Background(), rootfs, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.DiskSize != 300*mib || res.Output(Raw).Size != 300*mib {
		t.Errorf("disk %d bytes, file %d, want %d", res.DiskSize, res.Output(Raw).Size, 300*mib)
	}
	opts.Size = Size{Fixed: 260 * mib}
	if _, err := Write(context.Background(), rootfs, t.TempDir(), opts); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("260 MiB: error %v, want too small", err)
	}
}

func TestOptionsCheck(t *testing.T) {
	good := fastOptions(Raw)
	for name, mutate := range map[string]func(*Options){
		"empty name":     func(o *Options) { o.Name = "" },
		"name with dir":  func(o *Options) { o.Name = "a/b" },
		"hidden name":    func(o *Options) { o.Name = ".x" },
		"no formats":     func(o *Options) { o.Formats = nil },
		"unknown format": func(o *Options) { o.Formats = []Format{"iso"} },
		"twice":          func(o *Options) { o.Formats = []Format{Raw, Raw} },
		"epoch unset":    func(o *Options) { o.SourceDateEpoch = 0 },
		"epoch 2200":     func(o *Options) { o.SourceDateEpoch = 7258118400 },
		"vmdk subformat": func(o *Options) { o.VMDKSubformat = "monolithicFlat" },
		"kernel arg":     func(o *Options) { o.KernelArgs = []string{"a b"} },
		"driver":         func(o *Options) { o.Drivers = []string{"ena nvme"} },
		"datasource":     func(o *Options) { o.Datasources = []string{"Ec2]"} },
	} {
		o := good
		mutate(&o)
		if _, err := o.check(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if o, err := good.check(); err != nil || o.VMDKSubformat != VMDKStreamOptimized {
		t.Errorf("good options: %v, subformat %q", err, o.VMDKSubformat)
	}
}
