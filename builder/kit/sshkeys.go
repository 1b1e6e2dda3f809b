package kit

import "xroad-appliance/provisioner/sshkey"

// sshKey is an SSH key pair: the private key in OpenSSH format and the public
// key as an authorized_keys line without comment.
type sshKey = sshkey.Pair

// newSSHKey generates a key of the profile's type.
func newSSHKey(keyType string, bits int, comment string) (*sshKey, error) {
	return sshkey.New(keyType, bits, comment)
}

// parseSSHKey reads back an OpenSSH private key (for --reuse) and checks its type.
func parseSSHKey(private []byte, keyType string, bits int) (*sshKey, error) {
	return sshkey.Parse(private, keyType, bits)
}

// sshAlgo is the wire name of a profile key type.
func sshAlgo(keyType string, bits int) string { return sshkey.Algo(keyType, bits) }
