package metadata

import (
	"errors"
	"fmt"
)

// ErrNameTaken is Admitted's refusal of a name the cluster already has.
var ErrNameTaken = errors.New("name already in the cluster")

// Admitted is the primary's document with m as a new secondary (a node that
// joined by token). The name must be new to the cluster and the cluster
// below its largest size; m itself was checked by the join service.
func (d *Document) Admitted(m Member) (*Document, error) {
	if d.Role != RolePrimary {
		return nil, errors.New("only the primary admits secondaries")
	}
	if m.Name == d.Primary.Name || m.Name == d.Node {
		return nil, fmt.Errorf("%s: %w (the primary)", m.Name, ErrNameTaken)
	}
	for _, s := range d.Secondaries {
		if s.Name == m.Name {
			return nil, fmt.Errorf("%s: %w", m.Name, ErrNameTaken)
		}
	}
	if len(d.Secondaries) >= MaxSecondaries {
		return nil, fmt.Errorf("the cluster has %d secondaries, the most it can have", MaxSecondaries)
	}
	c := *d
	c.Secondaries = append(append([]Member(nil), d.Secondaries...), m)
	return &c, nil
}

// Member is the listed secondary of that name.
func (d *Document) Member(name string) (Member, bool) {
	for _, m := range d.Secondaries {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// Forgotten is the primary's document without the secondary name: a node
// that is gone for good (`xroad-node forget`).
func (d *Document) Forgotten(name string) (*Document, error) {
	if d.Role != RolePrimary {
		return nil, errors.New("only the primary forgets secondaries")
	}
	if _, ok := d.Member(name); !ok {
		return nil, fmt.Errorf("%s is not a secondary of cluster %s", name, d.Cluster)
	}
	c := *d
	c.Secondaries = nil
	for _, m := range d.Secondaries {
		if m.Name != name {
			c.Secondaries = append(c.Secondaries, m)
		}
	}
	return &c, nil
}

// WithMembers is d knowing the secondaries the primary recorded (replicated
// to every node): those that joined after d was made are added, so that a
// promote lets them follow and a repoint finds their keys. Entries d lists
// stay as they are, and the node d names itself is never added twice.
func (d *Document) WithMembers(recorded []Member) *Document {
	c := *d
	c.Secondaries = append([]Member(nil), d.Secondaries...)
	for _, m := range recorded {
		if _, ok := d.Member(m.Name); ok || m.Name == d.Primary.Name {
			continue
		}
		c.Secondaries = append(c.Secondaries, m)
	}
	return &c
}
