package disk

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// maxVHDSize is the largest virtual size Azure takes for a VHD: 1023 GiB.
const maxVHDSize = 1023 << 30

// The checks below run in the build on every file it wrote, before the file
// is moved into the output directory: a file a cloud would refuse fails the
// build with the reason instead of failing an import later.

// imageInfo is what `qemu-img info --output json` says about a disk.
type imageInfo struct {
	Format         string `json:"format"`
	VirtualSize    int64  `json:"virtual-size"`
	FormatSpecific struct {
		Type string `json:"type"`
		Data struct {
			Compat     string `json:"compat"`      // qcow2
			CreateType string `json:"create-type"` // vmdk
		} `json:"data"`
	} `json:"format-specific"`
}

func qemuImgInfo(ctx context.Context, path, format string) (*imageInfo, error) {
	args := []string{"info", "--output=json"}
	if format != "" {
		args = append(args, "-f", format)
	}
	out, _, err := command(ctx, nil, "qemu-img", append(args, path)...)
	if err != nil {
		return nil, err
	}
	var info imageInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return nil, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	return &info, nil
}

// checkImage checks a disk file as qemu-img sees it: its format (probed,
// except raw and VHD, which carry no header at their start), the
// subformat, and that its virtual size is the disk's.
func checkImage(ctx context.Context, path string, f Format, diskSize int64, vmdkSubformat string) error {
	probe := ""
	switch f {
	case Raw:
		probe = "raw"
	case VHD:
		probe = "vpc"
	}
	info, err := qemuImgInfo(ctx, path, probe)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	want := map[Format]string{Raw: "raw", QCOW2: "qcow2", VMDK: "vmdk", VHD: "vpc"}[f]
	if info.Format != want {
		return fmt.Errorf("check %s: qemu-img reads it as %s, not %s", path, info.Format, want)
	}
	if info.VirtualSize != diskSize {
		return fmt.Errorf("check %s: virtual size %d bytes, the disk has %d", path, info.VirtualSize, diskSize)
	}
	switch f {
	case QCOW2:
		if info.FormatSpecific.Data.Compat != "1.1" {
			return fmt.Errorf("check %s: qcow2 compat %q, want 1.1 (qcow2 version 3)", path, info.FormatSpecific.Data.Compat)
		}
	case VMDK:
		if info.FormatSpecific.Data.CreateType != vmdkSubformat {
			return fmt.Errorf("check %s: VMDK create type %q, want %s", path, info.FormatSpecific.Data.CreateType, vmdkSubformat)
		}
	case VHD:
		return checkVHD(path)
	}
	return nil
}

// checkVHD checks what Azure requires of a VHD, from its footer: the fixed
// disk type, a virtual size of a whole number of MiB and at most 1023 GiB,
// and the file being exactly that size plus the footer (a page blob holds
// the file as it is).
func checkVHD(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	footer := make([]byte, 512)
	if fi.Size() < 512 {
		return fmt.Errorf("check %s: %d bytes, too short for a VHD", path, fi.Size())
	}
	if _, err := f.ReadAt(footer, fi.Size()-512); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if string(footer[:8]) != "conectix" {
		return fmt.Errorf("check %s: no VHD footer at the end of the file (a dynamic VHD has only a copy of it there, and Azure takes fixed VHDs only)", path)
	}
	if sum := binary.BigEndian.Uint32(footer[64:]); sum != vhdChecksum(footer) {
		return fmt.Errorf("check %s: VHD footer checksum %08x, computed %08x", path, sum, vhdChecksum(footer))
	}
	if t := binary.BigEndian.Uint32(footer[60:]); t != 2 {
		return fmt.Errorf("check %s: VHD disk type %d, Azure takes fixed VHDs only (type 2)", path, t)
	}
	size := int64(binary.BigEndian.Uint64(footer[48:]))
	switch {
	case size%mib != 0:
		return fmt.Errorf("check %s: VHD virtual size %d bytes is not a whole number of MiB, which Azure requires (round up to %d)", path, size, roundUp(size, mib))
	case size > maxVHDSize:
		return fmt.Errorf("check %s: VHD virtual size %d MiB is above Azure's 1023 GiB", path, size/mib)
	case fi.Size() != size+512:
		return fmt.Errorf("check %s: file of %d bytes for a fixed VHD of %d (want the size plus the 512-byte footer)", path, fi.Size(), size)
	}
	return nil
}

// checkGCE reads the GCE archive back: gzip, a tar whose one member is
// disk.raw, written in the GNU oldgnu format as a sparse file, and whose
// contents are the raw disk's (same size, same SHA-256).
func checkGCE(path string, diskSize int64, rawSHA256 string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, int(mib)))
	if err != nil {
		return fmt.Errorf("check %s: not gzip: %w", path, err)
	}
	br := bufio.NewReaderSize(zr, int(mib))
	// The first header's bytes say the format: oldgnu's magic is
	// "ustar  \0", POSIX ustar and pax have "ustar\0" "00".
	hdr, err := br.Peek(512)
	if err != nil {
		return fmt.Errorf("check %s: no tar header: %w", path, err)
	}
	if magic := string(hdr[257:265]); magic != "ustar  \x00" {
		return fmt.Errorf("check %s: tar magic %q, want GNU oldgnu's %q", path, magic, "ustar  \x00")
	}
	if hdr[156] != tar.TypeGNUSparse {
		return fmt.Errorf("check %s: member type %q, want a GNU sparse file ('S')", path, hdr[156])
	}
	tr := tar.NewReader(br)
	var members []string
	err = eachMember(tr, func(h *tar.Header) error {
		members = append(members, h.Name)
		if h.Name != gceMember {
			return nil
		}
		if h.Size != diskSize {
			return fmt.Errorf("%s of %d bytes, the disk has %d", gceMember, h.Size, diskSize)
		}
		h256 := newSHA256()
		if _, err := io.CopyBuffer(h256, tr, make([]byte, mib)); err != nil {
			return fmt.Errorf("%s: %w", gceMember, err)
		}
		if got := h256.hex(); got != rawSHA256 {
			return fmt.Errorf("%s has SHA-256 %s, the raw disk %s", gceMember, got, rawSHA256)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if len(members) != 1 || members[0] != gceMember {
		return fmt.Errorf("check %s: members %q, want exactly one, %s", path, members, gceMember)
	}
	return nil
}

// eachMember calls fn with each member's header, positioned to read its
// content from tr.
func eachMember(tr *tar.Reader, fn func(*tar.Header) error) error {
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(h); err != nil {
			return err
		}
	}
}

// ovfEnvelope is the part of an OVF descriptor the check compares.
type ovfEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.dmtf.org/ovf/envelope/1 Envelope"`
	Files   []struct {
		Href string `xml:"http://schemas.dmtf.org/ovf/envelope/1 href,attr"`
		ID   string `xml:"http://schemas.dmtf.org/ovf/envelope/1 id,attr"`
		Size int64  `xml:"http://schemas.dmtf.org/ovf/envelope/1 size,attr"`
	} `xml:"References>File"`
	Disks []struct {
		Capacity string `xml:"http://schemas.dmtf.org/ovf/envelope/1 capacity,attr"`
		Units    string `xml:"http://schemas.dmtf.org/ovf/envelope/1 capacityAllocationUnits,attr"`
		DiskID   string `xml:"http://schemas.dmtf.org/ovf/envelope/1 diskId,attr"`
		FileRef  string `xml:"http://schemas.dmtf.org/ovf/envelope/1 fileRef,attr"`
		Format   string `xml:"http://schemas.dmtf.org/ovf/envelope/1 format,attr"`
	} `xml:"DiskSection>Disk"`
	VirtualSystem struct {
		ID    string   `xml:"http://schemas.dmtf.org/ovf/envelope/1 id,attr"`
		Hosts []string `xml:"VirtualHardwareSection>Item>HostResource"`
	} `xml:"VirtualSystem"`
}

// capacityBytes reads an OVF capacity with its allocation units ("byte",
// "byte * 2^20", ...).
func capacityBytes(capacity, units string) (int64, error) {
	n, err := strconv.ParseInt(capacity, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("capacity %q: %w", capacity, err)
	}
	switch u := strings.ReplaceAll(units, " ", ""); {
	case u == "" || u == "byte":
		return n, nil
	case strings.HasPrefix(u, "byte*2^"):
		e, err := strconv.Atoi(strings.TrimPrefix(u, "byte*2^"))
		if err != nil || e < 0 || e > 40 {
			return 0, fmt.Errorf("capacity units %q", units)
		}
		return n << e, nil
	}
	return 0, fmt.Errorf("capacity units %q", units)
}

// checkOVA reads the OVA back: ustar members in the order descriptor, disk,
// manifest; the descriptor parses, names the disk member with its size and
// as stream-optimized, with the disk's capacity; the manifest's SHA-256
// sums are the members'; and the disk member is the VMDK that passed its
// own check (its SHA-256 is vmdkSHA256).
func checkOVA(path, name string, diskSize int64, vmdkSHA256 string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, int(mib)))
	type member struct {
		name   string
		size   int64
		sha256 string
		body   []byte // the descriptor and the manifest
	}
	var members []member
	err = eachMember(tr, func(h *tar.Header) error {
		if h.Format != tar.FormatUSTAR || h.Typeflag != tar.TypeReg {
			return fmt.Errorf("member %s is %v type %q, want a plain ustar file", h.Name, h.Format, h.Typeflag)
		}
		m := member{name: h.Name, size: h.Size}
		s := newSHA256()
		var w io.Writer = s
		var body bytes.Buffer
		if !strings.HasSuffix(h.Name, ".vmdk") {
			w = io.MultiWriter(s, &body)
		}
		if _, err := io.CopyBuffer(w, tr, make([]byte, mib)); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		m.sha256, m.body = s.hex(), body.Bytes()
		members = append(members, m)
		return nil
	})
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	ovfName, vmdkName, mfName := ovaNames(name)
	var got []string
	for _, m := range members {
		got = append(got, m.name)
	}
	if strings.Join(got, " ") != strings.Join([]string{ovfName, vmdkName, mfName}, " ") {
		return fmt.Errorf("check %s: members %q, want %s, %s, %s in this order", path, got, ovfName, vmdkName, mfName)
	}
	ovfM, vmdkM, mfM := members[0], members[1], members[2]

	var env ovfEnvelope
	if err := xml.Unmarshal(ovfM.body, &env); err != nil {
		return fmt.Errorf("check %s: %s: %w", path, ovfName, err)
	}
	if len(env.Files) != 1 || len(env.Disks) != 1 {
		return fmt.Errorf("check %s: %s: %d files and %d disks, want one of each", path, ovfName, len(env.Files), len(env.Disks))
	}
	file, d := env.Files[0], env.Disks[0]
	capacity, err := capacityBytes(d.Capacity, d.Units)
	switch {
	case file.Href != vmdkName || file.Size != vmdkM.size:
		return fmt.Errorf("check %s: %s: File %s of %d bytes, the member is %s of %d", path, ovfName, file.Href, file.Size, vmdkName, vmdkM.size)
	case d.FileRef != file.ID:
		return fmt.Errorf("check %s: %s: Disk refers to file %q, the File is %q", path, ovfName, d.FileRef, file.ID)
	case err != nil:
		return fmt.Errorf("check %s: %s: %w", path, ovfName, err)
	case capacity != diskSize:
		return fmt.Errorf("check %s: %s: Disk capacity %d bytes, the disk has %d", path, ovfName, capacity, diskSize)
	case d.Format != vmdkStreamFormat:
		return fmt.Errorf("check %s: %s: Disk format %q, want %s", path, ovfName, d.Format, vmdkStreamFormat)
	case len(env.VirtualSystem.Hosts) != 1 || env.VirtualSystem.Hosts[0] != "ovf:/disk/"+d.DiskID:
		return fmt.Errorf("check %s: %s: hardware's disks %q, want ovf:/disk/%s", path, ovfName, env.VirtualSystem.Hosts, d.DiskID)
	case vmdkM.sha256 != vmdkSHA256:
		return fmt.Errorf("check %s: %s differs from the checked VMDK", path, vmdkName)
	}
	wantMF := fmt.Sprintf("SHA256(%s)= %s\nSHA256(%s)= %s\n", ovfName, ovfM.sha256, vmdkName, vmdkM.sha256)
	if string(mfM.body) != wantMF {
		return fmt.Errorf("check %s: %s is\n%s\nthe members' sums are\n%s", path, mfName, mfM.body, wantMF)
	}
	return nil
}
