package kit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"gopkg.in/yaml.v3"
)

// passwordAlphabet is URL safe: the password travels through YAML, pgpass
// files and JDBC properties without quoting.
const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

const passwordLength = 32

// newPassword draws from crypto/rand; 64 symbols divide 256, so masking the
// byte keeps the choice uniform. 32 symbols are 192 bits.
func newPassword() (string, error) {
	b := make([]byte, passwordLength)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = passwordAlphabet[b[i]&63]
	}
	return string(b), nil
}

// metaData is NoCloud meta-data.
type metaData struct {
	InstanceID    string `yaml:"instance-id"`
	LocalHostname string `yaml:"local-hostname"`
}

func renderMetaData(instanceID, hostname string) ([]byte, error) {
	return yaml.Marshal(metaData{InstanceID: instanceID, LocalHostname: hostname})
}

// instanceID is stable for one node of one kit generation. cloud-init treats
// a new instance-id as a first boot and rewrites the role file, so it changes
// only when the node's document does. The CA fingerprint keeps a kit made
// from scratch for the same names from colliding with an older one.
func instanceID(caFingerprint, cluster, node string, generation int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%d", caFingerprint, cluster, node, generation))
	return "xroad-" + hex.EncodeToString(sum[:8])
}
