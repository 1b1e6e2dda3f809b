package disk

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// OVMF firmware from Debian's ovmf package.
const (
	ovmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	ovmfVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
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
	if os.Getenv("XROAD_TEST_QEMU") == "" {
		t.Skip("UEFI boot under QEMU runs alone: XROAD_TEST_QEMU=1 (make test does)")
	}
	needCommands(t, "mkfs.ext4", "debugfs", "qemu-img", "qemu-system-x86_64")
	for _, f := range []string{ovmfCode, ovmfVars} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("no UEFI firmware (apt-get install ovmf): %v", err)
		}
	}
	rootfs := bootableRootfs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	res, err := Write(ctx, rootfs, tmp, Options{
		Boot:            testBoot,
		Formats:         []Format{QCOW2},
		Name:            "boot",
		SourceDateEpoch: testEpoch,
		Size:            Size{Headroom: 256 * mib},
	})
	if err != nil {
		t.Fatal(err)
	}
	vars := filepath.Join(tmp, "OVMF_VARS.fd")
	data, err := os.ReadFile(ovmfVars)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vars, data, 0o600); err != nil {
		t.Fatal(err)
	}

	// Systemd's status lines are cut to the console's width and the ESP
	// (nofail) may mount after the prompt: wait for all of these.
	console := bootUntil(t, ctx, []string{
		"Command line: initrd=\\debian\\" + res.KernelVersion + "\\initrd.img root=PARTUUID=" + res.RootPartUUID + " ro",
		"EXT4-fs (vda2): mounted filesystem",
		"EXT4-fs (vda2): re-mounted", // systemd-remount-fs applied the fstab entry
		"Mounted boot-efi.mount - /boot/efi.",
		" login: ",
	}, "-machine", "q35", "-accel", "tcg", "-m", "1536", "-smp", "2",
		"-nographic", "-nic", "none",
		"-drive", "if=pflash,format=raw,readonly=on,file="+ovmfCode,
		"-drive", "if=pflash,format=raw,file="+vars,
		"-drive", "if=virtio,format=qcow2,snapshot=on,file="+res.Output(QCOW2).Path)
	for _, bad := range []string{"FAILED", "Dependency failed", "emergency mode"} {
		if strings.Contains(console, bad) {
			t.Errorf("console shows %q:\n%s", bad, tail(console))
		}
	}
}

// ansi matches the colour codes systemd writes to the console.
var ansi = regexp.MustCompile(`\x1b\[[0-9;=?]*[A-Za-z]`)

// bootUntil runs qemu-system-x86_64 until the serial console has shown
// every string of want and returns the console text without colour codes.
// QEMU is killed then, on failure and on timeout.
func bootUntil(t *testing.T, ctx context.Context, want []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)

	// Read in chunks, not lines: the prompt has no newline after it.
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 4096)
			n, err := stdout.Read(buf)
			if n > 0 {
				select {
				case chunks <- buf[:n]:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	var raw strings.Builder
	clean := func() string { return ansi.ReplaceAllString(raw.String(), "") }
	for {
		select {
		case chunk, ok := <-chunks:
			if !ok {
				t.Fatalf("QEMU ended before the console showed %q:\n%s", missing(clean(), want), tail(clean()))
			}
			raw.Write(chunk)
			if missing(clean(), want) == nil {
				stop()
				t.Logf("booted in %s", time.Since(start).Round(time.Second))
				return clean()
			}
		case <-ctx.Done():
			stop()
			t.Fatalf("after %s the console has not shown %q:\n%s",
				time.Since(start).Round(time.Second), missing(clean(), want), tail(clean()))
		}
	}
}

func missing(console string, want []string) []string {
	var m []string
	for _, w := range want {
		if !strings.Contains(console, w) {
			m = append(m, w)
		}
	}
	return m
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
