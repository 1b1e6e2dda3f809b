package disk

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadOSRelease(t *testing.T) {
	root := t.TempDir()
	if id, name := readOSRelease(root); id != "linux" || name != "Linux" {
		t.Errorf("without os-release: %q %q", id, name)
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	content := "NAME=\"Rocky Linux\"\nID=\"Rocky Linux/../x\"\nPRETTY_NAME='Rocky Linux 9.4 (Blue Onyx)'\n"
	if err := os.WriteFile(filepath.Join(root, "usr/lib/os-release"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// An absolute link must not be followed to the build host's file.
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/os-release", filepath.Join(root, "etc/os-release")); err != nil {
		t.Fatal(err)
	}
	if id, name := readOSRelease(root); id != "rockylinux..x" || name != "Rocky Linux 9.4 (Blue Onyx)" {
		t.Errorf("got %q %q", id, name)
	}
}

func TestESPFilesAndFstab(t *testing.T) {
	b := &bootFiles{KernelVersion: "6.1.0-10-amd64", Kernel: "/r/boot/vmlinuz-6.1.0-10-amd64",
		Initrd: "/r/boot/initrd.img-6.1.0-10-amd64", Loader: "/r/loader.efi", OSID: "debian", OSName: "Debian 12"}
	id := ids{Root: "11111111-2222-4333-8444-555555555555", ESP: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}
	files := espFiles(b, id, []string{"quiet", "net.ifnames=0"})
	var paths []string
	var entry string
	for _, f := range files {
		paths = append(paths, f.Path)
		if strings.HasPrefix(f.Path, "/loader/entries/") {
			entry = string(f.Contents)
		}
	}
	want := []string{"/EFI/BOOT/BOOTX64.EFI", "/loader/loader.conf", "/loader/entries/debian-6.1.0-10-amd64.conf",
		"/debian/6.1.0-10-amd64/vmlinuz", "/debian/6.1.0-10-amd64/initrd.img"}
	if !slices.Equal(paths, want) {
		t.Errorf("ESP paths %v, want %v", paths, want)
	}
	wantEntry := "title   Debian 12\nversion 6.1.0-10-amd64\nlinux   /debian/6.1.0-10-amd64/vmlinuz\n" +
		"initrd  /debian/6.1.0-10-amd64/initrd.img\n" +
		"options root=PARTUUID=11111111-2222-4333-8444-555555555555 ro quiet net.ifnames=0\n"
	if entry != wantEntry {
		t.Errorf("entry:\n%s\nwant:\n%s", entry, wantEntry)
	}
	tab := string(fstab(id))
	for _, line := range []string{
		"PARTUUID=11111111-2222-4333-8444-555555555555 /             ext4   errors=remount-ro  0      1",
		"PARTUUID=aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee /boot/efi     vfat   umask=0077,nofail  0      2",
	} {
		if !strings.Contains(tab, line+"\n") {
			t.Errorf("fstab lacks %q:\n%s", line, tab)
		}
	}
}

func TestFindBootFilesDracutInitrd(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"boot/vmlinuz-5.14.0-427.el9.x86_64", "boot/initramfs-5.14.0-427.el9.x86_64.img", testBoot.Bootloader[1:]} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dracut := testBoot
	dracut.Initrd = []string{"/boot/initrd.img-{version}", "/boot/initramfs-{version}.img"}
	b, err := findBootFiles(root, dracut)
	if err != nil {
		t.Fatal(err)
	}
	if b.Initrd != filepath.Join(root, "boot/initramfs-5.14.0-427.el9.x86_64.img") {
		t.Errorf("initrd %s", b.Initrd)
	}
}
