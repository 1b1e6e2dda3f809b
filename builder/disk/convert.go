package disk

import (
	"context"
	"fmt"
)

// convertArgs are the qemu-img options for each converted format.
//
//   - qcow2: version 3 (compat=1.1), uncompressed; qemu-img writes it
//     deterministically.
//   - vmdk: the subformat of Options.VMDKSubformat. streamOptimized (the
//     default) is what vSphere's OVF/OVA import, AWS VM Import and
//     VirtualBox all take, but its zlib compression makes it the slowest
//     output by far (about a minute for 1.3 GB of contents on one core);
//     monolithicSparse is fast and enough for Workstation and VirtualBox.
//   - vhd: qemu-img's "vpc" format, fixed subformat with force_size, which
//     is what Azure requires: a fixed VHD whose virtual size is the raw
//     size (a whole number of MiB) rather than qemu-img's CHS rounding. On
//     a sparse-capable file system the fixed file stays sparse.
func convertArgs(f Format, vmdkSubformat string) []string {
	switch f {
	case QCOW2:
		return []string{"-O", "qcow2", "-o", "compat=1.1"}
	case VMDK:
		return []string{"-O", "vmdk", "-o", "subformat=" + vmdkSubformat}
	case VHD:
		return []string{"-O", "vpc", "-o", "subformat=fixed,force_size=on"}
	}
	return nil
}

// convert writes dst in format f from the raw image src, then stamps the
// identifiers qemu-img makes up (VMDK CID, VHD time and UUID) with values
// derived from the build's inputs.
func convert(ctx context.Context, src, dst string, f Format, vmdkSubformat string, id ids, sourceDateEpoch int64) error {
	args := append([]string{"convert", "-q", "-f", "raw"}, convertArgs(f, vmdkSubformat)...)
	if _, _, err := command(ctx, nil, "qemu-img", append(args, src, dst)...); err != nil {
		return fmt.Errorf("convert %s to %s: %w", src, f, err)
	}
	switch f {
	case VMDK:
		return stampVMDK(dst, id)
	case VHD:
		return stampVHD(dst, id, sourceDateEpoch)
	}
	return nil
}
