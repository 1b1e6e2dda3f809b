package metadata

import (
	"errors"
	"fmt"
)

// DatabaseHosts is the part of a central-server database document that a
// promote or rejoin changes: which node is the primary.
type DatabaseHosts struct {
	Primary  Host   `yaml:"primary"`
	Standbys []Host `yaml:"standbys,omitempty"`
}

// DatabaseNodes are every database node of the document, primary first.
func (d *Document) DatabaseNodes() []Host {
	db := d.CentralServer.Database
	return append([]Host{db.Primary}, db.Standbys...)
}

// DatabasePromoted is this standby's document as the database primary: the
// other standbys and the old primary are its standbys.
func (d *Document) DatabasePromoted() (*Document, error) {
	if d.Role != RoleCSDBStandby {
		return nil, errors.New("only a database standby can be promoted")
	}
	var self Host
	for _, h := range d.CentralServer.Database.Standbys {
		if h.Name == d.Node {
			self = h
		}
	}
	return d.withDatabasePrimary(self, RoleCSDBPrimary)
}

// DatabaseRejoined is this database node's document as a standby of
// another, named by node name or address.
func (d *Document) DatabaseRejoined(primary string) (*Document, error) {
	if d.Role != RoleCSDBPrimary && d.Role != RoleCSDBStandby {
		return nil, errors.New("only a database node rejoins a database primary")
	}
	for _, h := range d.DatabaseNodes() {
		if h.Name != primary && h.Address != primary {
			continue
		}
		if h.Name == d.Node {
			return nil, fmt.Errorf("%s is this node; a node cannot follow itself", primary)
		}
		return d.withDatabasePrimary(h, RoleCSDBStandby)
	}
	return nil, fmt.Errorf("%s is not a database node of this node's role document (centralServer.database)", primary)
}

// withDatabasePrimary is d with next as the database primary and every
// other database node its standby, in the document's order.
func (d *Document) withDatabasePrimary(next Host, role Role) (*Document, error) {
	r := *d
	cs := *d.CentralServer
	cs.Database.Primary, cs.Database.Standbys = next, nil
	for _, h := range d.DatabaseNodes() {
		if h.Name != next.Name {
			cs.Database.Standbys = append(cs.Database.Standbys, h)
		}
	}
	if role == RoleCSDBStandby {
		// The admin role reaches a standby by replication.
		cs.Admin = Credentials{}
	}
	r.CentralServer, r.Role = &cs, role
	if err := r.validate(validateOpts{skipValidityPeriod: true, moved: true}); err != nil {
		return nil, fmt.Errorf("the changed document would be invalid: %w", err)
	}
	return &r, nil
}
