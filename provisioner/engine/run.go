package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
	"xroad-appliance/provisioner/atomicfile"
)

// Runner runs phases in order with stamps under StateDir.
type Runner struct {
	StateDir string
	Log      *slog.Logger
	// Notify reports progress (sd_notify STATUS=); may be nil.
	Notify func(status string)
	// Command is how a failed phase is retried, for the result file.
	Command string
	// AfterPhase, if set, is called when Run has stamped a phase.
	AfterPhase func(name string)
}

// Result is written to result.json after every run.
type Result struct {
	Status string    `json:"status"` // provisioned, failed
	Phase  string    `json:"phase,omitempty"`
	Error  string    `json:"error,omitempty"`
	Retry  string    `json:"retry,omitempty"`
	Done   []string  `json:"done"`
	Time   time.Time `json:"time"`
}

// ResultFile, StampDir and FinalStamp locate the runner's state.
func (r *Runner) ResultFile() string { return filepath.Join(r.StateDir, "result.json") }
func (r *Runner) StampDir() string   { return filepath.Join(r.StateDir, "phases") }
func (r *Runner) FinalStamp() string { return filepath.Join(r.StateDir, "provisioned") }

func (r *Runner) stamp(name string) string { return filepath.Join(r.StampDir(), name+".done") }

// Done reports the phases with a stamp, in plan order.
func (r *Runner) Done(phases []Phase) []string {
	var done []string
	for _, p := range phases {
		if _, err := os.Stat(r.stamp(p.Name)); err == nil {
			done = append(done, p.Name)
		}
	}
	return done
}

// Run runs every phase not yet stamped, then writes the final stamp.
func (r *Runner) Run(ctx context.Context, phases []Phase) error {
	// A provisioned node is left exactly as it is: not even the result file
	// is rewritten. Repairs go through RunPhase.
	if _, err := os.Stat(r.FinalStamp()); err == nil {
		r.Log.Info("node already provisioned; nothing to do", "stamp", r.FinalStamp())
		return nil
	}
	for _, p := range phases {
		if _, err := os.Stat(r.stamp(p.Name)); err == nil && !p.Always {
			r.Log.Info("phase already done", "phase", p.Name)
			continue
		}
		if err := r.runOne(ctx, p); err != nil {
			return r.fail(phases, p, err)
		}
		if r.AfterPhase != nil {
			r.AfterPhase(p.Name)
		}
	}
	if err := writeStamp(r.FinalStamp()); err != nil {
		return err
	}
	r.notify("provisioned")
	if err := r.writeResult(Result{Status: "provisioned", Done: r.Done(phases)}); err != nil {
		return err
	}
	// The journal and the console (a disk's serial port, read when the
	// node cannot be entered) say when the node is done.
	r.Log.Info("node provisioned", "phases", len(phases))
	return nil
}

// RunPhase runs one phase by name regardless of its stamp: the repair path.
func (r *Runner) RunPhase(ctx context.Context, phases []Phase, name string) error {
	for _, p := range phases {
		if p.Name == name {
			if err := r.runOne(ctx, p); err != nil {
				return r.fail(phases, p, err)
			}
			return r.writeResult(Result{Status: "phase-done", Phase: name, Done: r.Done(phases)})
		}
	}
	return fmt.Errorf("no phase %q in this node's plan", name)
}

func (r *Runner) runOne(ctx context.Context, p Phase) error {
	r.notify("phase " + p.Name + ": " + p.Summary)
	if err := converge(ctx, p, r.Log); err != nil {
		return err
	}
	return writeStamp(r.stamp(p.Name))
}

// Converge brings each phase, in order, to the state its Check wants, without
// stamps: day-2 changes run again whenever asked, possibly with new inputs.
func Converge(ctx context.Context, phases []Phase, log *slog.Logger) error {
	for _, p := range phases {
		if err := converge(ctx, p, log); err != nil {
			return fmt.Errorf("step %s: %w", p.Name, err)
		}
	}
	return nil
}

// converge applies p unless its Check says it is in place, then checks again.
func converge(ctx context.Context, p Phase, log *slog.Logger) error {
	done, err := p.Check(ctx)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if done {
		log.Info("phase in place", "phase", p.Name)
		return nil
	}
	log.Info("phase applying", "phase", p.Name, "summary", p.Summary)
	start := time.Now()
	if err := p.Apply(ctx); err != nil {
		return err
	}
	if done, err = p.Check(ctx); err != nil || !done {
		return errors.Join(errors.New("applied, but the check still fails"), err)
	}
	log.Info("phase applied", "phase", p.Name, "seconds", time.Since(start).Seconds())
	return nil
}

func (r *Runner) fail(phases []Phase, p Phase, err error) error {
	err = fmt.Errorf("phase %s: %w", p.Name, err)
	r.Log.Error("phase failed", "phase", p.Name, "error", err)
	r.notify("failed in phase " + p.Name)
	res := Result{Status: "failed", Phase: p.Name, Error: err.Error(), Done: r.Done(phases),
		Retry: r.Command + " --phase " + p.Name + " (or " + r.Command + " to resume)"}
	if werr := r.writeResult(res); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

func (r *Runner) notify(s string) {
	if r.Notify != nil {
		r.Notify(s)
	}
}

func (r *Runner) writeResult(res Result) error {
	res.Time = time.Now().UTC()
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return WriteState(r.ResultFile(), append(data, '\n'))
}

func writeStamp(path string) error {
	return WriteState(path, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"))
}

// WriteState writes one of the node's state files (stamps, records,
// result.json), making its directory when needed. The write is atomic and
// durable: the node's role and progress are decided from these files after a
// crash.
func WriteState(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}
