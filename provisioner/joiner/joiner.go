// Package joiner makes a secondary's role document by joining its cluster:
// it makes the node's keys on the node, proves the token to the primary's
// join service and checks the service's CA against the pin, and completes
// the document the primary grants with the keys that never left the node.
package joiner

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/atomicfile"
	"xroad-appliance/provisioner/join"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodecert"
	"xroad-appliance/provisioner/pemblock"
	"xroad-appliance/provisioner/retry"
	"xroad-appliance/provisioner/sshkey"
)

// Key files in the joiner's directory (nodestate.JoinDir), kept until the
// node has its role document, so that a run started again after a crash
// sends the keys the primary may already have admitted.
const (
	tlsKeyFile  = "tls.key"
	userKeyFile = "ssh-user.key"
	hostKeyFile = "ssh-host.key"
)

// Joiner is one joining node.
type Joiner struct {
	Seed *metadata.JoinDocument
	// Name is the node's name, from its instance's meta-data.
	Name  string
	Facts *profiles.Facts
	// Dir keeps the keys until the node is admitted (root only).
	Dir string
	// Wait bounds how long the primary may stay unreachable or busy.
	Wait time.Duration
	Log  *slog.Logger
}

// Join returns the node's complete role document. A refusal that asking
// again cannot mend (unknown, expired or used-up token, a name the cluster
// has, a CA that is not the pinned one) ends it at once; an unreachable or
// busy primary is asked again until Wait has passed.
func (j *Joiner) Join(ctx context.Context) (*metadata.Document, error) {
	k, err := j.keys()
	if err != nil {
		return nil, err
	}
	tok, err := j.Seed.Join.ParseToken()
	if err != nil {
		return nil, err
	}
	c := &join.Client{Address: j.Seed.Join.Primary, Port: j.Seed.Join.Port, Token: tok, Pin: j.Seed.Join.CAPin}
	csr, err := join.NewCSR(k.tls, j.Name)
	if err != nil {
		return nil, err
	}
	var grant *join.Grant
	var last error
	err = retry.Every(ctx, time.Second, j.Wait, func(ctx context.Context) (bool, error) {
		info, err := c.Discover(ctx)
		if err == nil {
			grant, err = c.Join(ctx, info, join.Request{Name: j.Name, CSR: csr, SSHPublicKey: k.user.Public, HostKey: k.host.Public})
		}
		switch {
		case err == nil:
			return true, nil
		case join.Permanent(err):
			return false, err
		}
		if last == nil || last.Error() != err.Error() {
			j.Log.Info("waiting for the primary's join service", "primary", c.Address, "port", c.Port, "err", err)
		}
		last = err
		return false, nil
	})
	if errors.Is(err, retry.ErrTimedOut) {
		return nil, fmt.Errorf("joining %s at %s:%d: no answer after %s: %v", j.Seed.Cluster, c.Address, c.Port, j.Wait, last)
	}
	if err != nil {
		return nil, fmt.Errorf("joining %s at %s:%d as %s: %w", j.Seed.Cluster, c.Address, c.Port, j.Name, err)
	}
	doc, err := metadata.CompleteGrant([]byte(grant.Document), string(k.tlsPEM), string(k.user.Private), string(k.host.Private))
	if err != nil {
		return nil, fmt.Errorf("the primary's role document for %s: %w", j.Name, err)
	}
	if doc.Cluster != j.Seed.Cluster || doc.Node != j.Name || doc.Role != metadata.RoleSecondary {
		return nil, fmt.Errorf("the primary granted a document for %s %s of cluster %s, this node is secondary %s of %s",
			doc.Role, doc.Node, doc.Cluster, j.Name, j.Seed.Cluster)
	}
	return doc, nil
}

// Forget removes the kept keys once the frozen document holds them.
func (j *Joiner) Forget() error {
	var errs []error
	for _, f := range []string{tlsKeyFile, userKeyFile, hostKeyFile} {
		if err := os.Remove(filepath.Join(j.Dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type keys struct {
	tls        crypto.Signer
	tlsPEM     []byte
	user, host *sshkey.Pair
}

// keys reads the kept keys, making and keeping those missing.
func (j *Joiner) keys() (*keys, error) {
	if err := os.MkdirAll(j.Dir, 0o700); err != nil {
		return nil, err
	}
	k := &keys{}
	var err error
	if k.tlsPEM, err = j.kept(tlsKeyFile, newTLSKey); err != nil {
		return nil, err
	}
	parsed, err := pemblock.Key(k.tlsPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(j.Dir, tlsKeyFile), err)
	}
	var ok bool
	if k.tls, ok = parsed.(crypto.Signer); !ok {
		return nil, fmt.Errorf("%s: not a signing key", filepath.Join(j.Dir, tlsKeyFile))
	}
	ssh := j.Facts.SSH
	for _, s := range []struct {
		file, comment string
		pair          **sshkey.Pair
	}{{userKeyFile, "xroad@" + j.Name, &k.user}, {hostKeyFile, "root@" + j.Name, &k.host}} {
		private, err := j.kept(s.file, func() ([]byte, error) {
			p, err := sshkey.New(ssh.KeyType, ssh.KeyBits, s.comment)
			if err != nil {
				return nil, err
			}
			return p.Private, nil
		})
		if err != nil {
			return nil, err
		}
		if *s.pair, err = sshkey.Parse(private, ssh.KeyType, ssh.KeyBits); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(j.Dir, s.file), err)
		}
	}
	return k, nil
}

// kept returns the file's content, writing make's first where it is missing.
func (j *Joiner) kept(name string, make func() ([]byte, error)) ([]byte, error) {
	path := filepath.Join(j.Dir, name)
	b, err := os.ReadFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	if b, err = make(); err != nil {
		return nil, err
	}
	return b, atomicfile.Write(path, b, 0o600)
}

// newTLSKey is the node's PostgreSQL key, made as the kit makes one.
func newTLSKey() ([]byte, error) {
	key, err := nodecert.NewKey()
	if err != nil {
		return nil, err
	}
	return nodecert.KeyPEM(key)
}
