// Package qemu boots a disk the builder made under QEMU with OVMF (UEFI) in
// software emulation and reads its serial console. Software emulation is
// starved when other tests share the machine's two cores, so these boots
// run only with XROAD_TEST_QEMU=1: `make test` runs them on their own after
// everything else.
package qemu

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

// Need skips the test unless QEMU boots were asked for and QEMU, OVMF and
// the named commands are installed.
func Need(t testing.TB, commands ...string) {
	t.Helper()
	if os.Getenv("XROAD_TEST_QEMU") == "" {
		t.Skip("UEFI boot under QEMU runs alone: XROAD_TEST_QEMU=1 (make test does)")
	}
	for _, c := range append([]string{"qemu-system-x86_64"}, commands...) {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s not installed", c)
		}
	}
	for _, f := range []string{ovmfCode, ovmfVars} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("no UEFI firmware (apt-get install ovmf): %v", err)
		}
	}
}

// UEFI returns QEMU's arguments for a q35 machine in software emulation
// with OVMF, its variables in a copy under dir.
func UEFI(t testing.TB, dir string) []string {
	t.Helper()
	vars := filepath.Join(dir, "OVMF_VARS.fd")
	data, err := os.ReadFile(ovmfVars)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vars, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"-machine", "q35", "-accel", "tcg", "-nographic",
		"-drive", "if=pflash,format=raw,readonly=on,file=" + ovmfCode,
		"-drive", "if=pflash,format=raw,file=" + vars}
}

// ansi matches the colour codes systemd writes to the console.
var ansi = regexp.MustCompile(`\x1b\[[0-9;=?]*[A-Za-z]`)

// BootUntil runs qemu-system-x86_64 until the serial console has shown
// every string of want and returns the console text without colour codes.
// Any of fail on the console ends the boot as a failure. QEMU is killed
// then, on failure and on timeout.
func BootUntil(t testing.TB, ctx context.Context, want, fail []string, args ...string) string {
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
				t.Fatalf("QEMU ended before the console showed %q:\n%s", missing(clean(), want), Tail(clean()))
			}
			raw.Write(chunk)
			for _, f := range fail {
				if strings.Contains(clean(), f) {
					stop()
					t.Fatalf("the console shows %q:\n%s", f, Tail(clean()))
				}
			}
			if missing(clean(), want) == nil {
				stop()
				t.Logf("booted in %s", time.Since(start).Round(time.Second))
				return clean()
			}
		case <-ctx.Done():
			stop()
			t.Fatalf("after %s the console has not shown %q:\n%s",
				time.Since(start).Round(time.Second), missing(clean(), want), Tail(clean()))
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

// Tail is the end of a console text, enough to see why a boot stopped.
func Tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
