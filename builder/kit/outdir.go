package kit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ErrExists is returned when outDir already holds something and neither
// Force nor Reuse was asked for.
var ErrExists = errors.New("output directory is not empty")

type dirState int

const (
	dirAbsent dirState = iota
	dirEmpty
	dirOccupied
)

func inspectOutDir(dir string) (dirState, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return dirAbsent, nil
	}
	if err != nil {
		return 0, err
	}
	// A symlink or file would be replaced by the rename, not filled.
	if !fi.IsDir() {
		return 0, fmt.Errorf("kit: %s exists and is not a directory", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); errors.Is(err, io.EOF) {
		return dirEmpty, nil
	} else if err != nil {
		return 0, err
	}
	return dirOccupied, nil
}

// stage writes a kit into a fresh 0700 directory beside outDir (same file
// system, so the final rename is atomic) and removes it again on failure.
func stage(outDir string, write func(root string) error) (string, error) {
	parent := filepath.Dir(outDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(outDir)+".tmp-")
	if err != nil {
		return "", err
	}
	if err := write(tmp); err != nil {
		// tmp is ours alone: MkdirTemp made it.
		return "", errors.Join(err, os.RemoveAll(tmp))
	}
	return tmp, nil
}

// swapIn renames the staged kit to outDir. An occupied outDir is moved aside
// first, never deleted; an empty one is removed (os.Remove only removes empty
// directories, so a racing writer cannot lose files).
func swapIn(staging, outDir string, state dirState, now time.Time) (previous string, err error) {
	switch state {
	case dirEmpty:
		if err := os.Remove(outDir); err != nil {
			return "", errors.Join(err, os.RemoveAll(staging))
		}
	case dirOccupied:
		previous = outDir + ".old-" + now.UTC().Format("20060102T150405Z")
		for i := 2; exists(previous); i++ {
			previous = outDir + ".old-" + now.UTC().Format("20060102T150405Z") + "-" + strconv.Itoa(i)
		}
		if err := os.Rename(outDir, previous); err != nil {
			return "", errors.Join(err, os.RemoveAll(staging))
		}
	}
	if err := os.Rename(staging, outDir); err != nil {
		if previous != "" {
			err = errors.Join(err, os.Rename(previous, outDir))
		}
		return "", errors.Join(err, os.RemoveAll(staging))
	}
	return previous, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// writeFile creates a new file with exactly mode (chmod beats the umask, so
// the modes are the same on every machine).
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// kitFile is one file of the kit, relative to its directory.
type kitFile struct {
	name string
	data []byte
	mode os.FileMode
}

const (
	modeDir     os.FileMode = 0o700
	modeSecret  os.FileMode = 0o600
	modePublic  os.FileMode = 0o644
	seedISOName             = "seed.iso"
)

// write lays the kit out under root:
//
//	cluster.yaml, kit.yaml        spec echo (ParseSpec reads it back), fingerprints and state
//	ca/ca.crt, ca/ca.key          cluster CA
//	nodes/NAME/                   user-data, meta-data, seed.iso, ca.crt, server.crt, server.key,
//	                              ssh_host_TYPE_key[.pub] (primary) or id_TYPE[.pub] (secondary)
func (k *kitPlan) write(root string) error {
	m := k.material
	spec, err := k.spec.Marshal()
	if err != nil {
		return err
	}
	state, err := marshalState(k.state())
	if err != nil {
		return err
	}
	files := []kitFile{
		{"cluster.yaml", spec, modePublic},
		{"kit.yaml", state, modePublic},
		{"ca/ca.crt", m.ca.CertPEM, modePublic},
		{"ca/ca.key", m.ca.KeyPEM, modeSecret},
	}
	if err := os.Chmod(root, modeDir); err != nil {
		return err
	}
	for _, d := range []string{"ca", "nodes"} {
		if err := os.Mkdir(filepath.Join(root, d), modeDir); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(root, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	for i, n := range k.nodes {
		if err := k.writeNode(root, n, i == 0); err != nil {
			return fmt.Errorf("%s: %w", n.node.Name, err)
		}
	}
	return nil
}

func (k *kitPlan) writeNode(root string, n *nodePlan, primary bool) error {
	m := k.material
	dir := filepath.Join(root, "nodes", n.node.Name)
	if err := os.Mkdir(dir, modeDir); err != nil {
		return err
	}
	meta, err := renderMetaData(n.instanceID, n.node.Name)
	if err != nil {
		return err
	}
	c := m.certs[n.node.Name]
	keyType := k.facts.SSH.KeyType
	files := []kitFile{
		{"user-data", n.userData, modeSecret},
		{"meta-data", meta, modePublic},
		{"ca.crt", m.ca.CertPEM, modePublic},
		{"server.crt", c.CertPEM, modePublic},
		{"server.key", c.KeyPEM, modeSecret},
	}
	if primary {
		files = append(files,
			kitFile{"ssh_host_" + keyType + "_key", m.hostKey.Private, modeSecret},
			kitFile{"ssh_host_" + keyType + "_key.pub", []byte(m.hostKey.Public + " root@" + n.node.Name + "\n"), modePublic})
	} else {
		uk := m.userKeys[n.node.Name]
		files = append(files,
			kitFile{"id_" + keyType, uk.Private, modeSecret},
			kitFile{"id_" + keyType + ".pub", []byte(uk.Public + " xroad@" + n.node.Name + "\n"), modePublic})
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return writeSeedISO(filepath.Join(dir, seedISOName), root, map[string][]byte{"user-data": n.userData, "meta-data": meta})
}
