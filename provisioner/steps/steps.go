// Package steps are the building blocks of provisioning phases: whole files
// written, package-shipped files edited in place, bounded waits.
package steps

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/retry"
	"xroad-appliance/provisioner/system"
)

// Files is a phase that writes whole files; it is in place when every file has its
// content, mode and owner. after runs once the files are written.
func Files(name, summary string, files []engine.File, after func(context.Context) error) engine.Phase {
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

// Edit is a change to a file that exists (shipped by a package), keeping
// everything the change does not touch, and the file's mode and owner.
type Edit struct {
	Path string
	Fn   func([]byte) []byte
	// Describe is what plan prints instead of the whole file.
	Describe string
	// Create, if set, is the owner (user:group) of the file made empty with
	// CreateMode when no package has made it.
	Create     string
	CreateMode os.FileMode
}

func Edits(name, summary string, edits []Edit, after func(context.Context) error) engine.Phase {
	p := engine.Phase{
		Name: name, Summary: summary,
		Check: func(context.Context) (bool, error) {
			for _, e := range edits {
				old, err := os.ReadFile(e.Path)
				if os.IsNotExist(err) && e.Create != "" {
					return false, nil
				}
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

func applyEdit(e Edit) error {
	old, err := os.ReadFile(e.Path)
	if os.IsNotExist(err) && e.Create != "" {
		if err := system.WriteFile(e.Path, nil, e.CreateMode, e.Create); err != nil {
			return err
		}
		old, err = nil, nil
	}
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

// PeerPoll is how often WaitFor asks: what is waited for is another node
// reaching a step (the primary ready, a standby streaming), which every node
// of a booting cluster waits on, so any sleep after it happened delays the
// whole cluster. Polls keep this interval (jittered, so that nodes do not
// ask in step) instead of backing off: a poll costs one connection, which a
// peer that is not listening yet refuses at once.
const PeerPoll = 250 * time.Millisecond

// WaitFor polls cond every PeerPoll until it holds or the timeout passes,
// keeping systemd's start timeout extended meanwhile.
func WaitFor(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	return WaitEvery(ctx, PeerPoll, timeout, what, cond)
}

// WaitEvery is WaitFor at another interval, for a poll that costs the peer
// more than a connection (an SSH login).
func WaitEvery(ctx context.Context, interval, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	return retry.Until(ctx, retry.Policy{First: interval, Max: interval, Timeout: timeout}, what, cond)
}

// Chain runs fns in order, stopping at the first error.
func Chain(fns ...func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, f := range fns {
			if err := f(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// RunAs is the user a command of the profile runs as; "" for root.
func RunAs(u string) string {
	if u == "root" {
		return ""
	}
	return u
}

// StartServices enqueues services that are ordered after the provisioner's
// unit: waiting for them here would deadlock. Their start jobs check the
// final stamp, and a crash before it makes them skip, so it always queues
// again. A service the installed packages lack is left out.
func StartServices(name, summary string, sd system.Units, services []string) engine.Phase {
	enqueued := false
	return engine.Phase{
		Name: name, Summary: summary, Always: true,
		Actions: []string{"systemctl start --no-block " + strings.Join(services, " ")},
		Check: func(ctx context.Context) (bool, error) {
			if enqueued {
				return true, nil
			}
			for _, s := range services {
				if st, err := sd.ActiveState(ctx, s+".service"); err != nil || st != "active" {
					return false, err
				}
			}
			return true, nil
		},
		Apply: func(ctx context.Context) error {
			for _, s := range services {
				if ok, err := sd.Loaded(ctx, s+".service"); err != nil {
					return err
				} else if !ok {
					continue
				}
				if err := sd.Enqueue(ctx, s+".service"); err != nil {
					return err
				}
			}
			enqueued = true
			return nil
		},
	}
}

// FollowersStreaming is a primary's last check: every follower named (by
// application_name) has a walsender streaming to it, waiting up to wait.
// who and whom name them in the summary and the wait ("secondary",
// "secondaries").
func FollowersStreaming(port int, names []string, who, whom string, wait time.Duration) engine.Phase {
	streaming := func(ctx context.Context) (bool, error) {
		got, err := pg.Streaming(ctx, port)
		if err != nil {
			return false, err
		}
		for _, name := range names {
			if !got[name] {
				return false, nil
			}
		}
		return true, nil
	}
	list := strings.Join(names, ", ")
	return engine.Phase{
		Name: "verify", Summary: "every " + who + " streaming: " + list,
		Actions: []string{"SELECT application_name, state FROM pg_stat_replication"},
		Check:   streaming,
		Apply: func(ctx context.Context) error {
			return WaitFor(ctx, wait, whom+" "+list+" streaming", streaming)
		},
	}
}
