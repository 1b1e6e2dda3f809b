package disk

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// moduleName is a kernel module's name as modprobe sees it: the file name
// without .ko and its compression suffix, '-' read as '_'.
func moduleName(file string) (string, bool) {
	base := path.Base(file)
	for _, suffix := range []string{".ko", ".ko.zst", ".ko.xz", ".ko.gz"} {
		if strings.HasSuffix(base, suffix) {
			return strings.ReplaceAll(strings.TrimSuffix(base, suffix), "-", "_"), true
		}
	}
	return "", false
}

// initrdModules lists the kernel modules an initramfs-tools initrd carries:
// one or more newc cpio archives one after another (an uncompressed early
// one for microcode or firmware, then the main one, compressed).
func initrdModules(file string) (map[string]bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mods := map[string]bool{}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		// Archives are padded to 512 bytes or more with NULs.
		for {
			b, err := r.Peek(1)
			if errors.Is(err, io.EOF) {
				return mods, nil
			} else if err != nil {
				return nil, err
			}
			if b[0] != 0 {
				break
			}
			r.Discard(1)
		}
		magic, err := r.Peek(6)
		if err != nil {
			return nil, fmt.Errorf("initrd %s: %w", file, err)
		}
		if string(magic) == "070701" || string(magic) == "070702" {
			if err := cpioNames(r, func(n string) {
				if m, ok := moduleName(n); ok {
					mods[m] = true
				}
			}); err != nil {
				return nil, fmt.Errorf("initrd %s: %w", file, err)
			}
			continue
		}
		// A compressed archive runs to the end of the file.
		var dec io.Reader
		switch {
		case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
			dec, err = gzip.NewReader(r)
		case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
			var z *zstd.Decoder
			z, err = zstd.NewReader(r)
			if err == nil {
				defer z.Close()
				dec = z
			}
		case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
			dec, err = xz.NewReader(r)
		default:
			return nil, fmt.Errorf("initrd %s: neither a cpio archive nor gzip, zstd or xz at its offset (magic %x)", file, magic)
		}
		if err != nil {
			return nil, fmt.Errorf("initrd %s: %w", file, err)
		}
		r = bufio.NewReaderSize(dec, 1<<20)
	}
}

// cpioNames reads one newc archive up to its TRAILER!!! entry and calls fn
// with every member's name.
func cpioNames(r *bufio.Reader, fn func(string)) error {
	hdr := make([]byte, 110)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return fmt.Errorf("cpio header: %w", err)
		}
		if m := string(hdr[:6]); m != "070701" && m != "070702" {
			return fmt.Errorf("cpio: bad magic %q", m)
		}
		field := func(i int) (int64, error) { return strconv.ParseInt(string(hdr[6+8*i:14+8*i]), 16, 64) }
		size, err1 := field(6)
		nameSize, err2 := field(11)
		if err := errors.Join(err1, err2); err != nil || nameSize < 1 || nameSize > 4096 {
			return fmt.Errorf("cpio: bad header %q", hdr)
		}
		name := make([]byte, nameSize)
		if _, err := io.ReadFull(r, name); err != nil {
			return fmt.Errorf("cpio name: %w", err)
		}
		n := string(bytes.TrimRight(name, "\x00"))
		if _, err := r.Discard(int(pad4(110 + nameSize))); err != nil {
			return err
		}
		if n == "TRAILER!!!" {
			return nil
		}
		fn(n)
		if _, err := io.CopyN(io.Discard, r, size+pad4(size)); err != nil {
			return fmt.Errorf("cpio %s: %w", n, err)
		}
	}
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

// builtinModules lists the modules built into the kernel, from
// modules.builtin of its module directory in the rootfs.
func builtinModules(rootfsDir, kernelVersion string) (map[string]bool, error) {
	mods := map[string]bool{}
	for _, dir := range []string{"usr/lib/modules", "lib/modules"} {
		data, err := os.ReadFile(filepath.Join(rootfsDir, dir, kernelVersion, "modules.builtin"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		for _, line := range strings.Fields(string(data)) {
			if m, ok := moduleName(line); ok {
				mods[m] = true
			}
		}
		return mods, nil
	}
	return mods, nil
}

// checkDrivers fails naming every driver the disk's targets need that is
// neither in the initrd nor built into the kernel: without them the disk
// does not find its root, or its network, on that cloud. It returns where
// each was found, for the build's log.
func checkDrivers(rootfsDir string, b *bootFiles, drivers []string) (string, error) {
	if len(drivers) == 0 {
		return "", nil
	}
	inInitrd, err := initrdModules(b.Initrd)
	if err != nil {
		return "", fmt.Errorf("disk: %w", err)
	}
	builtin, err := builtinModules(rootfsDir, b.KernelVersion)
	if err != nil {
		return "", fmt.Errorf("disk: %w", err)
	}
	var missing, fromInitrd, fromKernel []string
	for _, d := range drivers {
		switch n := strings.ReplaceAll(d, "-", "_"); {
		case inInitrd[n]:
			fromInitrd = append(fromInitrd, d)
		case builtin[n]:
			fromKernel = append(fromKernel, d)
		default:
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return "", fmt.Errorf("disk: the initrd %s of kernel %s lacks the drivers %s, which the disk's targets need (neither in the initrd nor built into the kernel; initramfs-tools MODULES=most includes them when the kernel package ships them)",
			b.Initrd, b.KernelVersion, strings.Join(missing, ", "))
	}
	found := fmt.Sprintf("in the initrd: %s", orNone(fromInitrd))
	if len(fromKernel) > 0 {
		found += fmt.Sprintf("; built into the kernel: %s", strings.Join(fromKernel, ", "))
	}
	return fmt.Sprintf("disk: kernel %s has the targets' drivers (%s)", b.KernelVersion, found), nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
