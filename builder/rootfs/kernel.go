package rootfs

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// KernelVersions lists the versions of the kernels in root that pattern (a
// path inside the image with {version}, /boot/vmlinuz-{version}) matches,
// oldest first. Only regular files count: a link such as /boot/vmlinuz is
// no kernel of its own.
func KernelVersions(root, pattern string) ([]string, error) {
	prefix, suffix, _ := strings.Cut(pattern, "{version}")
	kernels, err := filepath.Glob(filepath.Join(root, strings.ReplaceAll(pattern, "{version}", "*")))
	if err != nil {
		return nil, err
	}
	var versions []string
	for _, k := range kernels {
		if fi, err := os.Lstat(k); err == nil && fi.Mode().IsRegular() {
			versions = append(versions, strings.TrimSuffix(strings.TrimPrefix(k, filepath.Join(root, prefix)), suffix))
		}
	}
	slices.SortFunc(versions, CompareKernelVersions)
	return versions, nil
}

// CompareKernelVersions orders kernel versions by their numeric and text
// runs, so that 6.1.0-10-amd64 sorts after 6.1.0-9-amd64.
func CompareKernelVersions(a, b string) int {
	for a != "" && b != "" {
		ra, restA := leadingRun(a)
		rb, restB := leadingRun(b)
		na, errA := strconv.ParseUint(ra, 10, 64)
		nb, errB := strconv.ParseUint(rb, 10, 64)
		var c int
		if errA == nil && errB == nil {
			c = cmpUint(na, nb)
		} else {
			c = strings.Compare(ra, rb)
		}
		if c != 0 {
			return c
		}
		a, b = restA, restB
	}
	return strings.Compare(a, b)
}

// leadingRun splits s after its leading run of digits or of non-digits.
func leadingRun(s string) (run, rest string) {
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	i := 1
	for i < len(s) && digit(s[i]) == digit(s[0]) {
		i++
	}
	return s[:i], s[i:]
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
