package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"

	"xroad-appliance/provisioner/atomicfile"
	"xroad-appliance/provisioner/inputfile"
)

// Where metadata is found on a node, all relative to Sources.Root.
const (
	// RoleFile is written by cloud-init from the #cloud-config write_files
	// entry with this path.
	RoleFile = "/etc/xroad-node/role.yaml"
	// SeedDir and SeedDirNet are the NoCloud seed directories cloud-init reads.
	SeedDir    = "/var/lib/cloud/seed/nocloud"
	SeedDirNet = "/var/lib/cloud/seed/nocloud-net"
	// LabelDir is where udev links file systems by label.
	LabelDir = "/dev/disk/by-label"
	// CidataLabel labels a NoCloud seed volume (ISO9660 or FAT).
	CidataLabel = "cidata"

	// maxUserData bounds user-data, which may carry more than our document:
	// the bound of every input file, so that `xroad-node validate` accepts
	// exactly what a node reads.
	maxUserData = inputfile.MaxSize
)

// ErrNoMetadata means no source held a role document.
var ErrNoMetadata = errors.New("metadata: no role metadata found")

// Sources says where Load looks; nodestate gives a node's. The zero value
// reads the seeds of the machine it runs on, without a frozen copy.
type Sources struct {
	// Root prefixes every path: "" or "/" on a node, a temporary directory
	// in tests.
	Root string
	// Frozen is where the copy taken at first boot lies below Root; once
	// present it alone decides the node's role. Empty: no frozen copy.
	Frozen string
	// Owner is the uid that must own files holding secrets: 0 (root) on a
	// node; tests set os.Getuid().
	Owner int
	// Logger receives warnings, such as a newer source that disagrees with
	// the frozen copy; nil means slog.Default().
	Logger *slog.Logger
}

func (s Sources) path(p string) string {
	root := s.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, p)
}

func (s Sources) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Load returns the node's document and where it came from ("frozen:PATH",
// "explicit:PATH", "role-file:PATH", "nocloud-seed:PATH", "cidata:DEVICE").
//
// The frozen copy wins over everything: a later seed (a new instance-id makes
// cloud-init run again) must not flip a node's role. A newer source that
// differs from it is logged as a warning and otherwise ignored. Without a
// frozen copy the first source found wins, in this order: explicit (the
// --metadata flag, a plain path not under Root), RoleFile, the NoCloud seed
// directories, a volume labelled cidata. A source that exists but is broken
// is an error, not a reason to try the next one, and so is a join document
// (ErrJoinDocument), which only LoadSeed returns. Load never writes.
func Load(src Sources, explicit string) (*Document, string, error) {
	doc, join, origin, err := LoadSeed(src, explicit)
	switch {
	case err != nil:
		return nil, "", err
	case join != nil:
		return nil, "", fmt.Errorf("%s: %w: the node joins its cluster when it is provisioned", origin, ErrJoinDocument)
	}
	return doc, origin, nil
}

// LoadSeed is Load for a node that may join its cluster by token: without a
// frozen copy, the first source may hold a join document instead of a role
// document (ParseSeed). The frozen copy, when present, always wins and is
// a role document. Exactly one of the documents is set without an error.
func LoadSeed(src Sources, explicit string) (*Document, *JoinDocument, string, error) {
	if src.Frozen != "" {
		raw, err := src.readPrivate(src.path(src.Frozen), src.Frozen, MaxSize)
		switch {
		case err == nil:
			doc, err := parse(raw, validateOpts{skipValidityPeriod: true})
			if err != nil {
				return nil, nil, "", fmt.Errorf("frozen copy %s: %w", src.Frozen, err)
			}
			src.compareNewer(doc, explicit)
			return doc, nil, "frozen:" + src.Frozen, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, nil, "", err
		}
	}
	raw, origin, err := src.find(explicit)
	if err != nil {
		return nil, nil, "", err
	}
	doc, join, err := ParseSeed(raw)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", origin, err)
	}
	return doc, join, origin, nil
}

// find returns the raw document of the first source present.
func (s Sources) find(explicit string) ([]byte, string, error) {
	if explicit != "" {
		raw, err := s.readPrivate(explicit, explicit, MaxSize)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("metadata file %s given explicitly: %w", explicit, err)
		}
		if err != nil {
			return nil, "", err
		}
		return raw, "explicit:" + explicit, nil
	}
	raw, err := s.readPrivate(s.path(RoleFile), RoleFile, MaxSize)
	if err == nil {
		return raw, "role-file:" + RoleFile, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}

	var notes []string
	for _, dir := range []string{SeedDir, SeedDirNet} {
		name := dir + "/user-data"
		ud, err := s.readPrivate(s.path(name), name, maxUserData)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		raw, note, err := roleFromUserData(ud)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
		if raw != nil {
			return raw, "nocloud-seed:" + name, nil
		}
		notes = append(notes, name+": "+note)
	}

	for _, label := range []string{CidataLabel, strings.ToUpper(CidataLabel)} {
		dev := LabelDir + "/" + label
		if _, err := os.Stat(s.path(dev)); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		ud, err := readCidata(s.path(dev))
		if err != nil {
			return nil, "", fmt.Errorf("cidata volume %s: %w", dev, err)
		}
		raw, note, err := roleFromUserData(ud)
		if err != nil {
			return nil, "", fmt.Errorf("cidata volume %s: user-data: %w", dev, err)
		}
		if raw != nil {
			return raw, "cidata:" + dev, nil
		}
		notes = append(notes, dev+": "+note)
	}

	msg := fmt.Sprintf("looked for %s, %s/user-data, %s/user-data and a volume labelled %s",
		RoleFile, SeedDir, SeedDirNet, CidataLabel)
	if len(notes) > 0 {
		msg += " (" + strings.Join(notes, "; ") + ")"
	}
	return nil, "", fmt.Errorf("%w: %s", ErrNoMetadata, msg)
}

// compareNewer warns when the sources a first boot would read now say
// something else than the frozen copy.
func (s Sources) compareNewer(frozen *Document, explicit string) {
	log := s.logger()
	raw, origin, err := s.find(explicit)
	switch {
	case errors.Is(err, ErrNoMetadata):
		return
	case err != nil:
		log.Warn("metadata source unreadable; keeping the frozen copy", "frozen", s.Frozen, "error", err)
		return
	}
	newer, join, err := ParseSeed(raw)
	if err != nil {
		log.Warn("newer metadata is invalid and ignored; keeping the frozen copy",
			"source", origin, "frozen", s.Frozen, "error", err)
		return
	}
	if join != nil {
		// The join document a node joined by stays in its sources; it
		// names the cluster and the role, nothing else the frozen copy has.
		if join.Cluster != frozen.Cluster || join.Role != frozen.Role {
			log.Warn("newer join document conflicts with the frozen copy; the node keeps its frozen role",
				"source", origin, "frozen", s.Frozen, "frozenCluster", frozen.Cluster, "newerCluster", join.Cluster,
				"frozenRole", frozen.Role, "newerRole", join.Role)
		}
		return
	}
	if diff := identityDiff(frozen, newer); len(diff) > 0 {
		log.Warn("newer metadata conflicts with the frozen copy; the node keeps its frozen role",
			"source", origin, "frozen", s.Frozen, "fields", strings.Join(diff, ","),
			"frozenRole", frozen.Role, "newerRole", newer.Role, "frozenNode", frozen.Node, "newerNode", newer.Node)
		return
	}
	if !reflect.DeepEqual(frozen, newer) {
		log.Warn("newer metadata differs from the frozen copy and is ignored",
			"source", origin, "frozen", s.Frozen)
	}
}

// identityDiff names the fields that make up a node's identity and differ.
func identityDiff(a, b *Document) []string {
	var diff []string
	add := func(field string, differ bool) {
		if differ {
			diff = append(diff, field)
		}
	}
	add("cluster", a.Cluster != b.Cluster)
	add("role", a.Role != b.Role)
	add("node", a.Node != b.Node)
	add("primary.name", a.Primary.Name != b.Primary.Name)
	add("primary.address", a.Primary.Address != b.Primary.Address)
	add("primary.hostKey", a.Primary.HostKey != b.Primary.HostKey)
	return diff
}

// Freeze writes the frozen copy unless one exists. A present copy equal to doc
// is fine; a different one is an error and is left alone. The file appears
// atomically (temporary file, fsync, link) with mode 0600.
func Freeze(src Sources, doc *Document) error {
	if err := doc.Validate(); err != nil {
		return fmt.Errorf("metadata: refusing to freeze an invalid document: %w", err)
	}
	body, err := doc.Marshal()
	if err != nil {
		return err
	}
	if src.Frozen == "" {
		return errors.New("metadata: no place to freeze the document in")
	}
	final := src.path(src.Frozen)
	switch raw, err := src.readPrivate(final, src.Frozen, MaxSize); {
	case err == nil:
		// Compare encodings: a nil and an empty list are the same document.
		old, err := parse(raw, validateOpts{skipValidityPeriod: true})
		if err == nil {
			if oldBody, err := old.Marshal(); err == nil && bytes.Equal(oldBody, body) {
				return nil
			}
		}
		return fmt.Errorf("metadata: frozen copy %s exists and differs; it is never replaced", src.Frozen)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}

	data := append([]byte("# Frozen by xroad-node at first boot: this node's role from now on.\n"+
		"# Do not edit; holds secrets (mode 0600).\n"), body...)

	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("metadata: freezing: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".metadata-*.tmp")
	if err != nil {
		return fmt.Errorf("metadata: freezing: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the link only the temporary name goes
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("metadata: writing %s: %w", src.Frozen, err)
	}
	// link, unlike rename, never replaces: a copy frozen meanwhile stays.
	if err := os.Link(tmp.Name(), final); err != nil {
		return fmt.Errorf("metadata: freezing %s: %w", src.Frozen, err)
	}
	return atomicfile.SyncDir(dir)
}

// readPrivate reads a file that holds secrets: a regular file (not a
// symlink, never a FIFO or device), owned by s.Owner, with no permissions for
// group or others, at most limit bytes, read the way every input file is
// (inputfile). name is the path shown in errors. A missing file yields an
// error matching fs.ErrNotExist.
func (s Sources) readPrivate(path, name string, limit int64) ([]byte, error) {
	return inputfile.ReadWith(path, name, inputfile.Options{
		Limit:    limit,
		NoFollow: true,
		Check: func(fi fs.FileInfo) error {
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				return fmt.Errorf("%q has mode %04o: it holds secrets and must not be accessible to group or others (chmod 0600)", name, perm)
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != s.Owner {
				return fmt.Errorf("%q is owned by uid %d, not %d: refusing a file others could have written", name, st.Uid, s.Owner)
			}
			return nil
		},
	})
}
