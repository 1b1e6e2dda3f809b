package kit

import (
	"fmt"
	"path/filepath"
	"time"
	"xroad-appliance/builder/outdir"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/metadata"
)

// Options tune Generate.
type Options struct {
	// Force replaces a non-empty outDir. The old directory is moved aside to
	// outDir.old-TIMESTAMP, never deleted: it may hold files the kit did not write.
	Force bool
	// Reuse extends the kit already in outDir instead of starting over: the CA,
	// the passwords and every node's SSH keys and still fitting certificate
	// are kept, whatever role the node had; only new nodes get new material.
	// Every document lists the whole cluster, so adding a node changes every
	// node's document. The primary may change to a node of the old kit, whose
	// host key the cluster already knows; the old primary may stay on as a
	// secondary. In a central-server kit the database primary may change to a
	// database node of the old kit. The spec must be of the kit's kind. The
	// old kit is moved aside as with Force. This is how a node is added and
	// how a promotion is recorded.
	Reuse bool
	// Now is the clock for certificate validity; nil means time.Now.
	Now func() time.Time
}

// Result tells the caller what was written.
type Result struct {
	// Dir is the kit directory (absolute).
	Dir string
	// PreviousDir is where an older kit in Dir was moved, or "".
	PreviousDir string
	// Generation counts kit runs: 1 for a fresh kit, +1 for every --reuse.
	Generation    int
	CAFingerprint string
	Nodes         []NodeResult
	// AdminUser is the X-Road admin user's name; AdminPassword its password
	// when this run made it (shown once: the kit keeps only the hash), else "".
	AdminUser, AdminPassword string
	// Join is the joining secondaries' seed, when the spec has a join section.
	Join *JoinResult
}

// NodeResult is one node's part of the kit.
type NodeResult struct {
	Name    string
	Role    metadata.Role
	Address string
	// Dir holds the node's files; SeedISO is the cidata image to attach.
	Dir     string
	SeedISO string
	// InstanceID is the NoCloud instance-id; it changes only when the node's
	// document changed (Changed), which makes cloud-init rewrite the role file.
	InstanceID string
	Generation int
	Changed    bool
}

// Generate writes a complete kit for spec into outDir. facts may be nil, then
// spec.Profile is resolved. Nothing is written unless every input is valid, and
// the kit is staged next to outDir and renamed into place, so a failure leaves
// no half-written kit behind.
func Generate(spec Spec, facts *profiles.Facts, outDir string, opts Options) (*Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	facts, err := resolveFacts(&spec, facts)
	if err != nil {
		return nil, err
	}
	// Central-server nodes get no SSH keys from the kit.
	if !spec.isCentralServer() {
		if err := checkKeyType(facts); err != nil {
			return nil, err
		}
	} else if err := centralServerAvailable(facts); err != nil {
		return nil, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if outDir == "" {
		return nil, fmt.Errorf("kit: no output directory")
	}
	outDir, err = filepath.Abs(outDir)
	if err != nil {
		return nil, err
	}
	state, err := outdir.Inspect(outDir)
	if err != nil {
		return nil, err
	}
	if state == outdir.Occupied && !opts.Force && !opts.Reuse {
		return nil, fmt.Errorf("kit: %s: %w; --force moves it aside, --reuse extends the kit in it", outDir, outdir.ErrNotEmpty)
	}

	var prev *previousKit
	if opts.Reuse {
		if state != outdir.Occupied {
			return nil, fmt.Errorf("kit: --reuse: %s holds no kit", outDir)
		}
		if prev, err = loadPrevious(outDir, &spec, facts); err != nil {
			return nil, fmt.Errorf("kit: --reuse %s: %w", outDir, err)
		}
	}

	m, err := makeMaterial(&spec, facts, prev, now())
	if err != nil {
		return nil, fmt.Errorf("kit: %w", err)
	}
	nodes, err := planNodes(&spec, m)
	if err != nil {
		return nil, fmt.Errorf("kit: %w", err)
	}
	joinUserData, err := m.joinUserData(&spec)
	if err != nil {
		return nil, fmt.Errorf("kit: %w", err)
	}
	k := &kitPlan{spec: &spec, facts: facts, material: m, nodes: nodes, joinUserData: joinUserData, generation: 1, created: now().UTC()}
	if prev != nil {
		k.generation = prev.state.Generation + 1
	}
	k.assignGenerations(prev)

	staging, err := outdir.Stage(outDir, 0o700, k.write)
	if err != nil {
		return nil, fmt.Errorf("kit: %w", err)
	}
	previousDir, err := outdir.SwapIn(staging, outDir, state, now())
	if err != nil {
		return nil, fmt.Errorf("kit: %w", err)
	}
	return k.result(outDir, previousDir), nil
}

// resolveFacts picks the profile from the caller or the spec; both may name
// one, but then they must agree.
func resolveFacts(spec *Spec, facts *profiles.Facts) (*profiles.Facts, error) {
	if facts == nil {
		if spec.Profile == "" {
			return nil, fieldErr("profile", "missing; name a profile in the spec or on the command line")
		}
		f, err := profiles.Resolve(spec.Profile, "")
		if err != nil {
			return nil, fieldErr("profile", "%w", err)
		}
		return f, nil
	}
	if spec.Profile != "" && spec.Profile != facts.Name {
		return nil, fieldErr("profile", "the spec names %q but profile %q was given", spec.Profile, facts.Name)
	}
	spec.Profile = facts.Name // echoed into cluster.yaml
	return facts, nil
}

// centralServerAvailable refuses a profile whose database nodes cannot
// serve a central-server cluster (rhel-7: its systemd cannot run the
// fence). The central servers themselves boot an Ubuntu image whatever the
// database nodes run, so a profile without their packages is not refused.
func centralServerAvailable(f *profiles.Facts) error {
	if reason := f.XRoad.Unavailable["cs-database"]; reason != "" {
		return fieldErr("profile", "%s cannot serve a central-server cluster's database: %s", f.Name, reason)
	}
	return nil
}

func checkKeyType(f *profiles.Facts) error {
	switch {
	case f.SSH.KeyType == "ed25519":
		return nil
	case f.SSH.KeyType == "ecdsa" && (f.SSH.KeyBits == 256 || f.SSH.KeyBits == 384 || f.SSH.KeyBits == 521):
		return nil
	}
	return fmt.Errorf("profile %s: ssh key type %q/%d is not ed25519 or ecdsa 256/384/521", f.Name, f.SSH.KeyType, f.SSH.KeyBits)
}

func (k *kitPlan) result(outDir, previousDir string) *Result {
	r := &Result{Dir: outDir, PreviousDir: previousDir, Generation: k.generation, CAFingerprint: k.material.ca.fingerprint(),
		AdminUser: k.material.admin.Name, AdminPassword: k.material.adminPassword}
	for _, n := range k.nodes {
		dir := filepath.Join(outDir, "nodes", n.node.Name)
		r.Nodes = append(r.Nodes, NodeResult{
			Name: n.node.Name, Role: n.role, Address: n.node.Address,
			Dir: dir, SeedISO: filepath.Join(dir, "seed.iso"),
			InstanceID: n.instanceID, Generation: n.generation, Changed: n.changed,
		})
	}
	if j := k.material.join; j != nil {
		r.Join = &JoinResult{UserData: filepath.Join(outDir, joinUserDataName), TokenID: j.token.ID, Expires: j.expires}
	}
	return r
}
