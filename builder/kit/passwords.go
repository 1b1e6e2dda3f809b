package kit

import (
	"fmt"

	"xroad-appliance/provisioner/metadata"
)

// passwords are the cluster's shared secrets besides the CA: the serverconf
// password of a security-server cluster, or the database owner's, the
// replication user's and the admin's passwords of a central-server cluster.
type passwords struct {
	serverconf  string
	dbOwner     string
	replication string
	admin       string
}

// passwordField is one password with its name for messages.
type passwordField struct {
	value *string
	what  string
}

// fields lists the passwords one kind of cluster has.
func (pw *passwords) fields(centralServer bool) []passwordField {
	if centralServer {
		return []passwordField{{&pw.dbOwner, "database password"}, {&pw.replication, "replication password"}, {&pw.admin, "admin password"}}
	}
	return []passwordField{{&pw.serverconf, "serverconf password"}}
}

// newPasswords draws the passwords one kind of cluster has.
func newPasswords(centralServer bool) (passwords, error) {
	var pw passwords
	for _, f := range pw.fields(centralServer) {
		var err error
		if *f.value, err = newPassword(); err != nil {
			return passwords{}, fmt.Errorf("%s: %w", f.what, err)
		}
	}
	return pw, nil
}

// keepFrom takes the passwords a previous kit's document carries. Each is in
// several documents (the admin's only in the central servers'); they must agree.
func (pw *passwords) keepFrom(d *metadata.Document) error {
	if err := keepSame(&pw.serverconf, d.ServerconfPassword, "serverconf password"); err != nil {
		return err
	}
	cs := d.CentralServer
	if cs == nil {
		return nil
	}
	if err := keepSame(&pw.dbOwner, cs.Database.Password, "database password"); err != nil {
		return err
	}
	if err := keepSame(&pw.replication, cs.Database.ReplicationPassword, "replication password"); err != nil {
		return err
	}
	return keepSame(&pw.admin, cs.Admin.Password, "admin password")
}

// keepSame records got in kept unless it is empty; a second, different value is an error.
func keepSame(kept *string, got, what string) error {
	switch {
	case got == "" || got == *kept:
		return nil
	case *kept == "":
		*kept = got
		return nil
	}
	return fmt.Errorf("%s differs from the other nodes'", what)
}

// missing names a password a previous kit of that kind lacks, or is "".
func (pw passwords) missing(centralServer bool) string {
	for _, f := range pw.fields(centralServer) {
		if *f.value == "" {
			return f.what
		}
	}
	return ""
}
