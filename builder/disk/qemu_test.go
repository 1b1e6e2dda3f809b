package disk

import (
	"context"
	"strings"
	"testing"
	"time"

	"xroad-appliance/test/qemu"
)

// TestDebianDiskBootsUnderQEMU boots the qcow2 output under QEMU with OVMF
// in software emulation (about a minute to the login prompt on 2 cores)
// and reads the serial console: UEFI must find systemd-boot as the
// removable-media loader, systemd-boot must start the kernel with the
// disk's root=PARTUUID, the root and the ESP must mount as the image's
// fstab says, and nothing may fail.
//
// Software emulation is starved when other tests share the two cores, so it
// runs only with XROAD_TEST_QEMU=1: `make test` runs it on its own after
// everything else.
func TestDebianDiskBootsUnderQEMU(t *testing.T) {
	qemu.Need(t, "mkfs.ext4", "debugfs", "qemu-img")
	rootfs := bootableRootfs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	res, err := Write(ctx, rootfs, tmp, Options{
		Boot:            testBoot,
		Formats:         []Format{QCOW2},
		Name:            "boot",
		KernelArgs:      guestOf("debian-12", "qcow2").KernelArgs,
		SourceDateEpoch: testEpoch,
		Size:            Size{Headroom: 256 * mib},
	})
	if err != nil {
		t.Fatal(err)
	}

	// Systemd's status lines are cut to the console's width and the ESP
	// (nofail) may mount after the prompt: wait for all of these.
	args := append(qemu.UEFI(t, tmp), "-m", "1536", "-smp", "2", "-nic", "none",
		"-drive", "if=virtio,format=qcow2,snapshot=on,file="+res.Output(QCOW2).Path)
	console := qemu.BootUntil(t, ctx, []string{
		"Command line: initrd=\\debian\\" + res.KernelVersion + "\\initrd.img root=PARTUUID=" + res.RootPartUUID + " ro",
		"EXT4-fs (vda2): mounted filesystem",
		"EXT4-fs (vda2): re-mounted", // systemd-remount-fs applied the fstab entry
		"Mounted boot-efi.mount - /boot/efi.",
		" login: ",
	}, nil, args...)
	for _, bad := range []string{"FAILED", "Dependency failed", "emergency mode"} {
		if strings.Contains(console, bad) {
			t.Errorf("console shows %q:\n%s", bad, qemu.Tail(console))
		}
	}
}
