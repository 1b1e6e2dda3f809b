package disk

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/klauspost/compress/gzip"

	"xroad-appliance/builder/run"
)

// gceMember is the one file a GCE image tar holds; Compute Engine reads no
// other name.
const gceMember = "disk.raw"

// writeGCE writes the raw disk src as Compute Engine's image archive: a
// gzipped tar in GNU oldgnu format whose only member is disk.raw, stored
// sparse. Go's archive/tar writes no sparse files, so GNU tar makes the
// tar and Go compresses it (gzip's own header would carry a time stamp).
func writeGCE(ctx context.Context, src, dst, work string, sourceDateEpoch int64) error {
	dir, err := os.MkdirTemp(work, "gce-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// A link, not a copy: the member's name must be disk.raw.
	if err := os.Link(src, filepath.Join(dir, gceMember)); err != nil {
		return fmt.Errorf("gce: %w", err)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, int(mib))
	zw, err := gzip.NewWriterLevel(bw, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	_, _, err = run.Cmd{Clean: true, Stdout: zw, Env: []string{"TZ=UTC"}}.Streams(ctx, "tar",
		"--format=oldgnu", "--sparse", "--create", "--file=-", "--directory="+dir,
		"--owner=0", "--group=0", "--numeric-owner", "--mode=0644",
		"--mtime=@"+strconv.FormatInt(sourceDateEpoch, 10), gceMember)
	if err != nil {
		return fmt.Errorf("gce: %w", err)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// The virtual machine an OVA describes: what an X-Road security server
// needs at least (X-Road's system requirements: 2 CPUs, 4 GiB), UEFI
// firmware (the disk has no BIOS boot code), a paravirtual SCSI disk and a
// VMXNET3 network card. vSphere lets the operator change them on import.
const (
	ovaCPUs      = 2
	ovaMemoryMiB = 4096
	// ovaHardware is vSphere 6.7's virtual hardware version, importable by
	// every supported vSphere.
	ovaHardware = "vmx-14"
	// ovaGuestOS is a 64-bit Linux of kernel 5 or later: the guest's own
	// distribution does not change how vSphere runs it.
	ovaGuestOS = "other5xLinux64Guest"
	// vmdkStreamFormat names a stream-optimized VMDK in an OVF Disk.
	vmdkStreamFormat = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
)

// ovfTemplate is filled with text/template; x escapes what comes from the
// image name for XML (an image name may hold '&').
var ovfTemplate = template.Must(template.New("ovf").Funcs(template.FuncMap{"x": xmlEscape}).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="{{x .DiskFile}}" ovf:id="file1" ovf:size="{{.DiskFileSize}}"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="{{.Capacity}}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="{{.Format}}"/>
  </DiskSection>
  <NetworkSection>
    <Info>The logical networks</Info>
    <Network ovf:name="VM Network">
      <Description>The network of the appliance's interface</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="{{x .Name}}">
    <Info>An X-Road appliance</Info>
    <Name>{{x .Name}}</Name>
    <OperatingSystemSection ovf:id="101" vmw:osType="{{.GuestOS}}">
      <Info>The guest operating system</Info>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{{x .Name}}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>{{.Hardware}}</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of virtual CPUs</rasd:Description>
        <rasd:ElementName>{{.CPUs}} virtual CPUs</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>{{.CPUs}}</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory size</rasd:Description>
        <rasd:ElementName>{{.MemoryMiB}} MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>{{.MemoryMiB}}</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>SCSI controller</rasd:Description>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>VM Network</rasd:Connection>
        <rasd:Description>VMXNET3 network interface</rasd:Description>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`))

func xmlEscape(s string) (string, error) {
	var b strings.Builder
	err := xml.EscapeText(&b, []byte(s))
	return b.String(), err
}

type ovfParams struct {
	Name, DiskFile, Format, GuestOS, Hardware string
	DiskFileSize, Capacity                    int64
	CPUs, MemoryMiB                           int
}

// ovaNames are an OVA's members in the order the format requires: the
// descriptor first, then the disk, then the manifest.
func ovaNames(name string) (ovf, vmdk, mf string) {
	return name + ".ovf", name + "-disk1.vmdk", name + ".mf"
}

// writeOVA writes the OVA of the stream-optimized VMDK vmdk: a ustar tar
// of the OVF descriptor, the disk and the manifest of their SHA-256 sums.
func writeOVA(vmdk, dst, name string, diskSize, sourceDateEpoch int64) error {
	fi, err := os.Stat(vmdk)
	if err != nil {
		return err
	}
	ovfName, vmdkName, mfName := ovaNames(name)
	var ovf bytes.Buffer
	if err := ovfTemplate.Execute(&ovf, ovfParams{
		Name: name, DiskFile: vmdkName, Format: vmdkStreamFormat, GuestOS: ovaGuestOS, Hardware: ovaHardware,
		DiskFileSize: fi.Size(), Capacity: diskSize, CPUs: ovaCPUs, MemoryMiB: ovaMemoryMiB,
	}); err != nil {
		return err
	}
	vmdkSum, err := fileSHA256(vmdk)
	if err != nil {
		return err
	}
	mf := fmt.Sprintf("SHA256(%s)= %s\nSHA256(%s)= %s\n", ovfName, sha256Hex(ovf.Bytes()), vmdkName, vmdkSum)

	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, int(mib))
	tw := tar.NewWriter(bw)
	mtime := time.Unix(sourceDateEpoch, 0)
	add := func(member string, size int64, body io.Reader) error {
		// ustar is what the OVF specification asks an OVA to be.
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: member, Size: size, Mode: 0o644,
			ModTime: mtime, Format: tar.FormatUSTAR}); err != nil {
			return fmt.Errorf("ova %s: %w", member, err)
		}
		if _, err := io.Copy(tw, body); err != nil {
			return fmt.Errorf("ova %s: %w", member, err)
		}
		return nil
	}
	if err := add(ovfName, int64(ovf.Len()), bytes.NewReader(ovf.Bytes())); err != nil {
		return err
	}
	disk, err := os.Open(vmdk)
	if err != nil {
		return err
	}
	defer disk.Close()
	if err := add(vmdkName, fi.Size(), disk); err != nil {
		return err
	}
	if err := add(mfName, int64(len(mf)), strings.NewReader(mf)); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// fileSHA256 hashes a file in large pieces (disks are mostly holes).
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, mib)); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sha256Writer is a running SHA-256 with its hex sum.
type sha256Writer struct{ hash.Hash }

func newSHA256() sha256Writer      { return sha256Writer{sha256.New()} }
func (s sha256Writer) hex() string { return hex.EncodeToString(s.Sum(nil)) }
