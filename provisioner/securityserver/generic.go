package securityserver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/system"
)

// filesPhase writes whole files; it is in place when every file has its
// content, mode and owner. after runs once the files are written.
func filesPhase(name, summary string, files []engine.File, after func(context.Context) error) engine.Phase {
	return engine.Phase{
		Name: name, Summary: summary, Files: files,
		Check: func(context.Context) (bool, error) {
			for _, f := range files {
				ok, err := system.FileIs(f.Path, f.Content, f.Mode, f.Owner)
				if err != nil || !ok {
					return false, err
				}
			}
			return true, nil
		},
		Apply: func(ctx context.Context) error {
			for _, f := range files {
				if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
					return err
				}
				if err := system.WriteFile(f.Path, f.Content, f.Mode, f.Owner); err != nil {
					return err
				}
			}
			if after != nil {
				return after(ctx)
			}
			return nil
		},
	}
}

// edit is a change to a file that exists (shipped by a package), keeping
// everything the change does not touch, and the file's mode and owner.
type edit struct {
	Path string
	Fn   func([]byte) []byte
	// Describe is what plan prints instead of the whole file.
	Describe string
}

func editPhase(name, summary string, edits []edit, after func(context.Context) error) engine.Phase {
	p := engine.Phase{
		Name: name, Summary: summary,
		Check: func(context.Context) (bool, error) {
			for _, e := range edits {
				old, err := os.ReadFile(e.Path)
				if err != nil {
					return false, err
				}
				if !bytes.Equal(e.Fn(old), old) {
					return false, nil
				}
			}
			return true, nil
		},
		Apply: func(ctx context.Context) error {
			for _, e := range edits {
				if err := applyEdit(e); err != nil {
					return err
				}
			}
			if after != nil {
				return after(ctx)
			}
			return nil
		},
	}
	for _, e := range edits {
		p.Actions = append(p.Actions, "edit "+e.Path+":\n"+e.Describe)
	}
	return p
}

func applyEdit(e edit) error {
	old, err := os.ReadFile(e.Path)
	if err != nil {
		return err
	}
	st, err := os.Stat(e.Path)
	if err != nil {
		return err
	}
	sys := st.Sys().(*syscall.Stat_t)
	owner := fmt.Sprintf("%d:%d", sys.Uid, sys.Gid)
	return system.WriteFileIDs(e.Path, e.Fn(old), st.Mode().Perm(), int(sys.Uid), int(sys.Gid), owner)
}
