package scenarios

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	bcache "xroad-appliance/builder/cache"
	"xroad-appliance/builder/kit"
	"xroad-appliance/test/cluster"
	"xroad-appliance/test/nodeimage"
	"xroad-appliance/test/qemu"
)

// TestUbuntuDiskProvisionsUnderQEMU boots the qcow2 disk xroad-image makes
// of images/cs-database.yaml on the default profile (ubuntu-24.04) under
// QEMU with OVMF on a q35 machine, as OpenStack boots it with
// hw_firmware_type=uefi and hw_machine_type=q35, its seed on a NoCloud ISO
// from xroad-image kit: UEFI starts systemd-boot, Ubuntu's kernel and
// initrd mount the root, cloud-init reads the seed, and
// xroad-provision.service makes the node the central servers' database
// primary. The same build's raw disk is compared with the qcow2 first
// (qemu-img compare), so the one software-emulated boot stands for both.
// The guest's network is QEMU's own, restricted: no route off it. It runs
// with XROAD_TEST_QEMU=1 (make test runs it alone after everything else).
func TestUbuntuDiskProvisionsUnderQEMU(t *testing.T) {
	qemu.Need(t)
	cluster.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "xroad-test-disk-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bcache.RemoveTree(dir) })
	img, err := nodeimage.Build(ctx, dir, nodeimage.Options{Image: "cs-database", Outputs: []string{"raw", "qcow2"},
		Progress: func(line string) { t.Log(line) }})
	if err != nil {
		t.Fatal(err)
	}
	raw, qcow2 := img.Output("raw"), img.Output("qcow2")
	if raw == "" || qcow2 == "" {
		t.Fatalf("the build made no raw or no qcow2 disk: %q %q", raw, qcow2)
	}
	if out, err := exec.CommandContext(ctx, "qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw, qcow2).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img compare: the qcow2 is not the raw disk: %v\n%s", err, out)
	}

	// QEMU's user network gives the guest 10.0.2.15.
	spec := kit.Spec{Cluster: "disk", Profile: nodeimage.DefaultProfile, CentralServer: kit.DefaultCentralServer()}
	spec.CentralServer.Database.Primary = kit.Node{Name: "db1", Address: "10.0.2.15"}
	spec.CentralServer.Nodes = []kit.CSNode{{Node: kit.Node{Name: "cs1", Address: "10.0.2.20"}, HANodeName: "node_0"}}
	res, err := kit.Generate(spec, nil, filepath.Join(t.TempDir(), "kit"), kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var seed string
	for _, n := range res.Nodes {
		if n.Name == "db1" {
			seed = n.SeedISO
		}
	}

	args := append(qemu.UEFI(t, t.TempDir()), "-m", "2048", "-smp", "2",
		"-nic", "user,restrict=on,model=virtio-net-pci",
		"-drive", "if=virtio,format=qcow2,snapshot=on,file="+qcow2,
		"-drive", "if=virtio,format=raw,readonly=on,file="+seed)
	// The provisioner logs to the console too (StandardOutput=journal+console);
	// systemd's own "Finished" line may not show once the login prompt is up.
	// A boot that stalls must fail with its console well inside go test's
	// own timeout, not be killed by it with nothing to show.
	boot, cancelBoot := context.WithTimeout(ctx, 12*time.Minute)
	defer cancelBoot()
	qemu.BootUntil(t, boot, []string{
		`msg="node provisioned"`,
		" login: ",
	}, []string{"Failed to start xroad-provision.service", `msg="phase failed"`, "emergency mode", "Dependency failed"}, args...)
}
