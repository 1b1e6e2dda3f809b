package status

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/roles"
)

// probeProvisioning reads the provisioner's stamps and result file.
func probeProvisioning(c *Inputs) (Provisioning, error) {
	p := Provisioning{Done: []string{}}
	var errs []error

	switch _, err := os.Stat(c.State.ProvisionedStamp()); {
	case err == nil:
		p.Provisioned = true
	case !errors.Is(err, fs.ErrNotExist):
		errs = append(errs, fmt.Errorf("final stamp: %w", err))
	}

	stamped, err := stamps(c.State.StampDir())
	if err != nil {
		errs = append(errs, err)
	}
	if plan := planNames(c); plan != nil {
		p.Pending = []string{}
		for _, name := range plan {
			if stamped[name] {
				p.Done = append(p.Done, name)
				delete(stamped, name)
			} else {
				p.Pending = append(p.Pending, name)
			}
		}
	}
	// Stamps the plan does not know (or all, without a plan) follow by name.
	var rest []string
	for name := range stamped {
		rest = append(rest, name)
	}
	sort.Strings(rest)
	p.Done = append(p.Done, rest...)

	res, err := readResult(c.State.ResultFile(), c.Doc)
	if err != nil {
		errs = append(errs, err)
	}
	p.Result = res
	aside, err := movedAside(c)
	if err != nil {
		errs = append(errs, err)
	}
	p.MovedAside = aside
	return p, errors.Join(errs...)
}

// stamps returns the names of the phases stamped done.
func stamps(dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return map[string]bool{}, fmt.Errorf("phase stamps: %w", err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".done"); ok && e.Type().IsRegular() {
			names[name] = true
		}
	}
	return names, nil
}

// planNames lists the node's phases in order, or nil without document and facts.
func planNames(c *Inputs) []string {
	doc := c.Doc
	if c.Provisioned != nil {
		doc = c.Provisioned
	}
	if doc == nil || c.Facts == nil {
		return nil
	}
	phases, err := roles.Provisioning(&phase.Context{Doc: doc, Facts: c.Facts, State: c.State})
	if err != nil {
		return nil
	}
	names := make([]string, len(phases))
	for i, ph := range phases {
		names[i] = ph.Name
	}
	return names
}

// readResult reads result.json; a missing file means no run has ended yet.
func readResult(path string, doc *metadata.Document) (*Result, error) {
	r, err := engine.ReadResult(path)
	if err != nil || r == nil {
		if err != nil {
			return nil, fmt.Errorf("provisioning result: %w", err)
		}
		return nil, nil
	}
	res := &Result{Status: r.Status, Phase: r.Phase, Error: scrub(r.Error, doc), Retry: r.Retry, Time: r.Time.UTC(), Attempts: []Attempt{}}
	for _, a := range r.Attempts {
		res.Attempts = append(res.Attempts, Attempt{Time: a.Time.UTC(), Phase: a.Phase, Outcome: a.Outcome, Error: scrub(a.Error, doc)})
	}
	return res, nil
}

// movedAside finds the directories beside the node's data directories
// that a base backup replaced or left (pg.Leftovers), with their sizes.
func movedAside(c *Inputs) ([]MovedAside, error) {
	out := []MovedAside{}
	if c.Facts == nil {
		return out, nil
	}
	var errs []error
	seen := map[string]bool{}
	for _, dir := range []string{c.Facts.PG.Serverconf.DataDir, c.Facts.PG.Default.DataDir} {
		if dir == "" || seen[dir] {
			continue
		}
		seen[dir] = true
		for _, l := range pg.Leftovers(dir) {
			size, err := duSize(l.Path)
			if err != nil {
				errs = append(errs, err)
			}
			out = append(out, MovedAside{Path: l.Path, Kind: l.Kind, Bytes: size})
		}
	}
	return out, errors.Join(errs...)
}

// duSize adds up the sizes of the regular files under dir.
func duSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("size of %s: %w", dir, err)
	}
	return n, nil
}

// scrub hides the document's passwords should an error text ever carry
// one: the provisioner keeps secrets out of errors, and status must not be
// the place where a slip becomes visible.
func scrub(s string, doc *metadata.Document) string {
	if doc == nil {
		return s
	}
	secrets := []string{doc.ServerconfPassword}
	if cs := doc.CentralServer; cs != nil {
		secrets = append(secrets, cs.Database.Password, cs.Database.ReplicationPassword, cs.Admin.Password)
	}
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, metadata.RedactedText)
		}
	}
	return s
}
