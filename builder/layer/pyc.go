package layer

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// pycHeader returns the header a Python byte-code cache file at path must
// carry in the layer, or nil when its bytes go in unchanged.
//
// A timestamp-based .pyc names its source's modification time, and Python
// compiles the source again whenever that differs from the source's own.
// The layer clamps the source's time to the epoch, so a packaged .pyc
// written from a newer source would be stale in every node: each first boot
// would compile all of cloud-init (and every other Python program it runs)
// again, seconds of a boot on a small machine. The recorded time is clamped
// the same way, but only where it and the recorded size are those of the
// source beside it: a .pyc that was already stale stays stale.
// Hash-based .pyc files (PEP 552) do not depend on times and are left alone.
func pycHeader(path string, size int64, epoch time.Time) ([]byte, error) {
	const headerLen = 16
	if epoch.IsZero() || size < headerLen || !strings.HasSuffix(path, ".pyc") {
		return nil, nil
	}
	src := pycSource(path)
	if src == "" {
		return nil, nil
	}
	sfi, err := os.Lstat(src)
	if err != nil || !sfi.Mode().IsRegular() {
		return nil, nil // no source: the .pyc is all there is, used as it is
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, headerLen)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Python 3.7 and later (magic 3390 on): flags, then time and size.
	if binary.LittleEndian.Uint16(head[0:2]) < 3390 || head[2] != '\r' || head[3] != '\n' {
		return nil, nil
	}
	if binary.LittleEndian.Uint32(head[4:8]) != 0 {
		return nil, nil // hash-based
	}
	recorded, recordedSize := binary.LittleEndian.Uint32(head[8:12]), binary.LittleEndian.Uint32(head[12:16])
	if recorded != uint32(sfi.ModTime().Unix()) || recordedSize != uint32(sfi.Size()) {
		return nil, nil
	}
	clamped := uint32(clamp(sfi.ModTime(), epoch).Unix())
	if clamped == recorded {
		return nil, nil
	}
	binary.LittleEndian.PutUint32(head[8:12], clamped)
	return head, nil
}

// pycSource is the source of DIR/__pycache__/NAME.TAG[.opt-N].pyc,
// DIR/NAME.py ("" when path is no such cache file).
func pycSource(path string) string {
	dir, file := filepath.Split(path)
	if filepath.Base(dir) != "__pycache__" {
		return ""
	}
	name, _, ok := strings.Cut(file, ".")
	if !ok || name == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(filepath.Clean(dir)), name+".py")
}
