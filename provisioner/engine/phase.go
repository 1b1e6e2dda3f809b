// Package engine runs provisioning phases: each a named step with Check (is it
// already done?) and Apply, stamped when done, so that a provisioner killed
// anywhere resumes where it stopped and a provisioned node changes nothing.
package engine

import (
	"context"
	"io/fs"
)

// Phase is one named provisioning step.
type Phase struct {
	Name    string
	Summary string
	// Files are what the phase writes, shown by `xroad-node plan`.
	Files []File
	// Actions describe the commands and statements the phase runs.
	Actions []string
	// Check reports whether the phase's end state is already in place.
	Check func(ctx context.Context) (bool, error)
	// Apply brings the end state about; it must be safe to repeat.
	Apply func(ctx context.Context) error
	// Always makes Run apply the phase on every run until the node is
	// provisioned, stamped or not: for effects that do not outlive the run,
	// such as start jobs queued behind the provisioner's own unit, which a
	// crash before the final stamp leaves skipped.
	Always bool
}

// File is one file a phase writes.
type File struct {
	Path    string
	Mode    fs.FileMode
	Owner   string // user:group
	Content []byte
	// Secret content is never printed, only its size.
	Secret bool
}
