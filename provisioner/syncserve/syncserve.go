// Package syncserve is the forced command of the secondaries' keys on the
// primary: it lets an SSH session run rsync only as a read-only sender of
// /etc/xroad, whatever the client asked for, and records when each member
// last synced.
package syncserve

import (
	"fmt"
	"regexp"
	"strings"
)

// Root is the only tree a secondary may read.
const Root = "/etc/xroad/"

var (
	shortOpts = regexp.MustCompile(`^-[a-zA-Z]*(e[0-9.a-zA-Z]*)?$`)
	longOpts  = regexp.MustCompile(`^--(timeout=[0-9]+|contimeout=[0-9]+|delete-delay|delay-updates|delete|numeric-ids|log-format=%[a-zA-Z%]+|compress-level=[0-9]|checksum-seed=[0-9]+|protect-args|no-implied-dirs)$`)
)

// Command checks SSH_ORIGINAL_COMMAND and returns the rsync argv to exec.
// Only `rsync --server --sender [options] . /etc/xroad/` passes: never a
// receiver (that would write on the primary), never another path, never
// --remove-source-files or anything unknown.
func Command(original string) ([]string, error) {
	f := strings.Fields(original)
	if len(f) < 5 || f[0] != "rsync" || f[1] != "--server" || f[2] != "--sender" {
		return nil, fmt.Errorf("only a read-only rsync of %s is allowed", Root)
	}
	opts, dot, path := f[3:len(f)-2], f[len(f)-2], f[len(f)-1]
	if dot != "." || (path != Root && path != strings.TrimSuffix(Root, "/")) {
		return nil, fmt.Errorf("only %s may be read", Root)
	}
	for _, o := range opts {
		if !shortOpts.MatchString(o) && !longOpts.MatchString(o) {
			return nil, fmt.Errorf("rsync option %q is not allowed", o)
		}
	}
	return append([]string{"/usr/bin/rsync"}, f[1:]...), nil
}
