package kit

import (
	"fmt"
	"os"
	"path/filepath"
	"xroad-appliance/provisioner/atomicfile"
)

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
//	                              and on security servers ssh_host_TYPE_key[.pub] (host key),
//	                              id_TYPE[.pub] (xroad user key)
//	join/user-data                with a join section: every joining secondary's user-data
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
	dirs := []string{"ca", "nodes"}
	if k.joinUserData != nil {
		dirs = append(dirs, filepath.Dir(joinUserDataName))
		files = append(files, kitFile{joinUserDataName, k.joinUserData, modeSecret})
	}
	for _, d := range dirs {
		if err := os.Mkdir(filepath.Join(root, d), modeDir); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := atomicfile.Create(filepath.Join(root, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	for _, n := range k.nodes {
		if err := k.writeNode(root, n); err != nil {
			return fmt.Errorf("%s: %w", n.node.Name, err)
		}
	}
	return nil
}

func (k *kitPlan) writeNode(root string, n *nodePlan) error {
	m, name := k.material, n.node.Name
	dir := filepath.Join(root, "nodes", name)
	if err := os.Mkdir(dir, modeDir); err != nil {
		return err
	}
	meta, err := renderMetaData(n.instanceID, name)
	if err != nil {
		return err
	}
	c := m.certs[name]
	files := []kitFile{
		{"user-data", n.userData, modeSecret},
		{"meta-data", meta, modePublic},
		{"ca.crt", m.ca.CertPEM, modePublic},
		{"server.crt", c.CertPEM, modePublic},
		{"server.key", c.KeyPEM, modeSecret},
	}
	files = append(files, k.sshFiles(name)...)
	for _, f := range files {
		if err := atomicfile.Create(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return writeSeedISO(filepath.Join(dir, seedISOName), root, map[string][]byte{"user-data": n.userData, "meta-data": meta})
}

// sshFiles are a security server's key files; central-server nodes have none.
func (k *kitPlan) sshFiles(name string) []kitFile {
	host, user := k.material.hostKeys[name], k.material.userKeys[name]
	if host == nil || user == nil {
		return nil
	}
	keyType := k.facts.SSH.KeyType
	return []kitFile{
		{"ssh_host_" + keyType + "_key", host.Private, modeSecret},
		{"ssh_host_" + keyType + "_key.pub", []byte(host.Public + " root@" + name + "\n"), modePublic},
		{"id_" + keyType, user.Private, modeSecret},
		{"id_" + keyType + ".pub", []byte(user.Public + " xroad@" + name + "\n"), modePublic},
	}
}
