package kit

import (
	"fmt"
	"time"
	"xroad-appliance/provisioner/inputfile"
	"xroad-appliance/provisioner/metadata"
)

// kitState is kit.yaml: what a later --reuse needs besides the secrets, and the
// fingerprints an operator compares when pinning or auditing. No secrets.
type kitState struct {
	Generation int         `yaml:"generation"`
	Created    string      `yaml:"created"`
	Profile    string      `yaml:"profile"`
	SSHKeyType string      `yaml:"sshKeyType,omitempty"` // none in a central-server kit, which holds no SSH keys
	CA         caState     `yaml:"ca"`
	Nodes      []nodeState `yaml:"nodes"`
}

type caState struct {
	Subject  string `yaml:"subject"`
	SHA256   string `yaml:"sha256"`
	NotAfter string `yaml:"notAfter"`
}

type nodeState struct {
	Name       string `yaml:"name"`
	Role       string `yaml:"role"`
	Address    string `yaml:"address"`
	Generation int    `yaml:"generation"`
	InstanceID string `yaml:"instanceId"`
	CertSHA256 string `yaml:"certSHA256"`
	// HostKey and SSHKey are the SHA256:... fingerprints of the node's SSH
	// host key and xroad user key.
	HostKey string `yaml:"hostKey,omitempty"`
	SSHKey  string `yaml:"sshKey,omitempty"`
}

func (k *kitPlan) state() kitState {
	m := k.material
	s := kitState{
		Generation: k.generation,
		Created:    k.created.Format(time.RFC3339),
		Profile:    k.facts.Name,
		CA: caState{
			Subject:  m.ca.Cert.Subject.String(),
			SHA256:   m.ca.fingerprint(),
			NotAfter: m.ca.Cert.NotAfter.UTC().Format(time.RFC3339),
		},
	}
	if !k.spec.isCentralServer() {
		s.SSHKeyType = sshAlgo(k.facts.SSH.KeyType, k.facts.SSH.KeyBits)
	}
	for _, n := range k.nodes {
		ns := nodeState{
			Name: n.node.Name, Role: string(n.role), Address: n.node.Address,
			Generation: n.generation, InstanceID: n.instanceID,
			CertSHA256: m.certs[n.node.Name].fingerprint(),
		}
		if host, user := m.hostKeys[n.node.Name], m.userKeys[n.node.Name]; host != nil && user != nil {
			ns.HostKey, ns.SSHKey = host.Fingerprint(), user.Fingerprint()
		}
		s.Nodes = append(s.Nodes, ns)
	}
	return s
}

func marshalState(s kitState) ([]byte, error) {
	return metadata.EncodeYAML("# Written by xroad-image kit; read by --reuse. Fingerprints only, no secrets.\n", s)
}

func parseState(data []byte) (*kitState, error) {
	var s kitState
	if err := inputfile.DecodeYAML("", data, &s); err != nil {
		return nil, err
	}
	if s.Generation < 1 || s.CA.SHA256 == "" || len(s.Nodes) == 0 {
		return nil, fmt.Errorf("incomplete kit state")
	}
	return &s, nil
}
