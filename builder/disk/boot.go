package disk

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"xroad-appliance/builder/rootfs"
)

// Boot says where the image's packages put what the disk boots with: the
// profile's disk facts. Paths are inside the image; {version} stands for
// the kernel version.
type Boot struct {
	Kernel     string   // /boot/vmlinuz-{version}
	Initrd     []string // where its initrd may be, first found wins
	Bootloader string   // systemd-boot's UEFI binary
	// Packages are what provides them, named in errors.
	Packages []string
}

// check refuses boot facts the writer cannot use, before any work.
func (b Boot) check() error {
	if !strings.Contains(b.Kernel, "{version}") || len(b.Initrd) == 0 || b.Bootloader == "" {
		return fmt.Errorf("disk: no boot facts (kernel %q with {version}, initrd %q, boot loader %q): the profile makes no disks",
			b.Kernel, b.Initrd, b.Bootloader)
	}
	return nil
}

func (b Boot) withVersion(p, v string) string { return strings.ReplaceAll(p, "{version}", v) }

// bootFiles are the host paths of the kernel, initrd and boot loader inside
// the rootfs, and what the loader entry says about them.
type bootFiles struct {
	KernelVersion string
	Kernel        string
	Initrd        string
	Loader        string
	OSID          string // os-release ID: the ESP directory and entry name
	OSName        string // os-release PRETTY_NAME: the entry title
}

// size is what the boot files take on the ESP.
func (b *bootFiles) size() (int64, error) {
	var n int64
	for _, p := range []string{b.Kernel, b.Initrd, b.Loader} {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, fmt.Errorf("disk: %w", err)
		}
		n += fi.Size()
	}
	return n, nil
}

// findBootFiles picks the newest kernel the boot facts match, with its
// initrd, and the boot loader. It names everything missing at once.
func findBootFiles(root string, facts Boot) (*bootFiles, error) {
	b := &bootFiles{Loader: filepath.Join(root, facts.Bootloader)}
	var missing []string
	install := "install " + strings.Join(facts.Packages, ", ")

	glob := facts.withVersion(facts.Kernel, "*")
	versions, err := rootfs.KernelVersions(root, facts.Kernel)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		missing = append(missing, fmt.Sprintf("no kernel %s (%s)", glob, install))
	} else {
		b.KernelVersion = versions[len(versions)-1]
		b.Kernel = filepath.Join(root, facts.withVersion(facts.Kernel, b.KernelVersion))
		var candidates []string
		for _, p := range facts.Initrd {
			p = facts.withVersion(p, b.KernelVersion)
			candidates = append(candidates, p)
			if b.Initrd == "" && regular(filepath.Join(root, p)) {
				b.Initrd = filepath.Join(root, p)
			}
		}
		if b.Initrd == "" {
			missing = append(missing, fmt.Sprintf("no initrd %s for kernel %s (%s)",
				strings.Join(candidates, " or "), b.KernelVersion, install))
		}
	}
	if !regular(b.Loader) {
		missing = append(missing, fmt.Sprintf("no UEFI boot loader %s (%s)", facts.Bootloader, install))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("disk: rootfs %s cannot boot: %s", root, strings.Join(missing, "; "))
	}
	b.OSID, b.OSName = readOSRelease(root)
	return b, nil
}

func regular(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// readOSRelease returns ID (reduced to what is safe as a FAT directory name)
// and PRETTY_NAME, with fallbacks when the rootfs has no os-release. Links
// are not followed: an absolute one would read the build host's file, and
// Debian's /etc/os-release points at /usr/lib/os-release anyway.
func readOSRelease(root string) (id, name string) {
	id, name = "linux", "Linux"
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		p = filepath.Join(root, p)
		if !regular(p) {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			value = unquote(value)
			switch key {
			case "ID":
				if s := sanitizeID(value); s != "" {
					id = s
				}
			case "PRETTY_NAME":
				if value != "" && !strings.ContainsAny(value, "\r") {
					name = value
				}
			}
		}
		return id, name
	}
	return id, name
}

func unquote(v string) string {
	if s, err := strconv.Unquote(v); err == nil {
		return s
	}
	return strings.Trim(v, `'"`)
}

func sanitizeID(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// espFile is one file to put on the ESP: a host file or literal contents.
type espFile struct {
	Path     string // on the ESP, "/EFI/BOOT/BOOTX64.EFI"
	Source   string // host path, or
	Contents []byte
}

// espFiles lays out the ESP for systemd-boot as the removable-media
// fallback loader (no NVRAM entry needed), with one Boot Loader
// Specification entry. The menu stays hidden and the editor is off: an
// appliance boots one entry, and an editable command line would give anyone
// at the console init=/bin/sh.
func espFiles(b *bootFiles, id ids, kernelArgs []string) []espFile {
	dir := "/" + b.OSID + "/" + b.KernelVersion
	entry := b.OSID + "-" + b.KernelVersion + ".conf"
	loaderConf := fmt.Sprintf("default %s\ntimeout 0\neditor no\n", entry)
	entryConf := fmt.Sprintf("title   %s\nversion %s\nlinux   %s/vmlinuz\ninitrd  %s/initrd.img\noptions %s\n",
		b.OSName, b.KernelVersion, dir, dir, kernelCmdline(id, kernelArgs))
	return []espFile{
		{Path: "/EFI/BOOT/BOOTX64.EFI", Source: b.Loader},
		{Path: "/loader/loader.conf", Contents: []byte(loaderConf)},
		{Path: "/loader/entries/" + entry, Contents: []byte(entryConf)},
		{Path: dir + "/vmlinuz", Source: b.Kernel},
		{Path: dir + "/initrd.img", Source: b.Initrd},
	}
}

// kernelCmdline finds the root by partition UUID (no file system UUID
// lookup in the initrd needed); the consoles and the rest are the
// profile's and the definition's (extra).
func kernelCmdline(id ids, extra []string) string {
	args := []string{"root=PARTUUID=" + id.Root, "ro"}
	return strings.Join(append(args, extra...), " ")
}

// fstab mounts the root and the ESP by partition UUID.
func fstab(id ids) []byte {
	return []byte(fmt.Sprintf(`# Written by xroad-image for the disk image; partitions by GPT PARTUUID.
# <file system>                                <mount point> <type> <options>          <dump> <pass>
PARTUUID=%s /             ext4   errors=remount-ro  0      1
PARTUUID=%s /boot/efi     vfat   umask=0077,nofail  0      2
`, id.Root, id.ESP))
}

// checkKernelArgs refuses arguments that would break the loader entry.
func checkKernelArgs(args []string) error {
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\r") {
			return errors.New("disk: kernel argument " + strconv.Quote(a) + " is empty or contains white space")
		}
	}
	return nil
}

// cloudCfgDir holds cloud-init's configuration snippets; cloudCfgFile is
// the disk's datasource list among them. cloud-init (and ds-identify) read
// them in lexical order, the last datasource_list winning: the name sorts
// after the package's own 90_dpkg.cfg, which lists every datasource.
const (
	cloudCfgDir  = "etc/cloud/cloud.cfg.d"
	cloudCfgFile = "/etc/cloud/cloud.cfg.d/99_xroad-disk-datasources.cfg"
)

// checkDatasourceOverride fails when a snippet of the rootfs read after the
// disk's own would set datasource_list again, which would silently undo
// the targets' list.
func checkDatasourceOverride(rootfsDir string) error {
	files, err := filepath.Glob(filepath.Join(rootfsDir, cloudCfgDir, "*.cfg"))
	if err != nil {
		return err
	}
	for _, f := range files {
		if filepath.Base(f) <= path.Base(cloudCfgFile) {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("disk: %w", err)
		}
		if bytes.Contains(data, []byte("datasource_list")) {
			return fmt.Errorf("disk: /%s/%s sets datasource_list and is read after %s, so the disk's targets' datasources would not apply", cloudCfgDir, filepath.Base(f), cloudCfgFile)
		}
	}
	return nil
}

// datasourceList is cloud-init's configuration naming where a disk's
// instance data may come from; None last lets a disk boot where none
// answers.
func datasourceList(sources []string) []byte {
	return []byte("# Written by xroad-image for the disk's targets.\ndatasource_list: [" +
		strings.Join(append(slices.Clone(sources), "None"), ", ") + "]\n")
}

// rootOverlay is what the root file system gets beyond the rootfs
// directory: the ESP mount point, an fstab for this disk and, when the
// targets name them, cloud-init's datasources. These are the disk's alone:
// the OCI image and rootfs tar keep cloud-init's own list.
func rootOverlay(id ids, datasources []string) (dirs []string, files []overlayFile) {
	files = []overlayFile{{Path: "/etc/fstab", Contents: fstab(id), Mode: 0o644}}
	if len(datasources) > 0 {
		files = append(files, overlayFile{Path: cloudCfgFile, Contents: datasourceList(datasources), Mode: 0o644})
	}
	return []string{"/boot/efi"}, files
}
