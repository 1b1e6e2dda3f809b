package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/retry"
)

// Runner runs phases in order, stamping each in the node's state.
type Runner struct {
	State *nodestate.State
	Log   *slog.Logger
	// Notify reports progress (sd_notify STATUS=); may be nil.
	Notify func(status string)
	// Command is how a failed phase is retried, for the result file.
	Command string
	// AfterPhase, if set, is called when Run has stamped a phase.
	AfterPhase func(name string)
	// Retry bounds how often a phase is tried again within a run after a
	// transient failure; zero is PhaseRetry.
	Retry retry.Policy

	attempts []Attempt
}

// PhaseRetry is how a phase that failed transiently (a peer not ready, a
// connection reset, a primary restarting, a base backup broken off) is
// tried again within the run: five tries over about a minute. What still
// fails ends the run, and systemd restarts the unit a bounded number of
// times (the profile's restart facts).
var PhaseRetry = retry.Policy{First: 2 * time.Second, Max: 30 * time.Second, Attempts: 5}

// maxAttempts bounds result.json's list of failed attempts.
const maxAttempts = 50

// Result is written to result.json after every run.
type Result struct {
	Status string    `json:"status"` // running, provisioned, failed, phase-done
	Phase  string    `json:"phase,omitempty"`
	Error  string    `json:"error,omitempty"`
	Retry  string    `json:"retry,omitempty"`
	Done   []string  `json:"done"`
	Time   time.Time `json:"time"`
	// Attempts are the failures met on the way, oldest first (at most
	// maxAttempts): each one retried within a run, ending a run, or a run
	// that ended without a result (killed, crashed).
	Attempts []Attempt `json:"attempts,omitempty"`
}

// Attempt is one failed try.
type Attempt struct {
	Time  time.Time `json:"time"`
	Phase string    `json:"phase"`
	// Outcome is retried (tried again within the run), failed (the run
	// ended with it) or interrupted (the run ended without writing a result).
	Outcome string `json:"outcome"`
	Error   string `json:"error"`
}

// Done reports the phases with a stamp, in plan order.
func (r *Runner) Done(phases []Phase) []string {
	var done []string
	for _, p := range phases {
		if _, err := os.Stat(r.State.PhaseStamp(p.Name)); err == nil {
			done = append(done, p.Name)
		}
	}
	return done
}

// Run runs every phase not yet stamped, then writes the final stamp.
func (r *Runner) Run(ctx context.Context, phases []Phase) error {
	// A provisioned node is left exactly as it is: not even the result file
	// is rewritten. Repairs go through RunPhase.
	if r.State.Provisioned() {
		r.Log.Info("node already provisioned; nothing to do", "stamp", r.State.ProvisionedStamp())
		return nil
	}
	r.resume()
	for _, p := range phases {
		if _, err := os.Stat(r.State.PhaseStamp(p.Name)); err == nil && !p.Always {
			r.Log.Info("phase already done", "phase", p.Name)
			continue
		}
		if err := r.writeResult(Result{Status: "running", Phase: p.Name, Done: r.Done(phases)}); err != nil {
			return err
		}
		if err := r.runOne(ctx, p); err != nil {
			return r.fail(phases, p, err)
		}
		if r.AfterPhase != nil {
			r.AfterPhase(p.Name)
		}
	}
	if err := r.State.Stamp(r.State.ProvisionedStamp()); err != nil {
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
	r.resume()
	for _, p := range phases {
		if p.Name == name {
			if err := r.writeResult(Result{Status: "running", Phase: p.Name, Done: r.Done(phases)}); err != nil {
				return err
			}
			if err := r.runOne(ctx, p); err != nil {
				return r.fail(phases, p, err)
			}
			return r.writeResult(Result{Status: "phase-done", Phase: name, Done: r.Done(phases)})
		}
	}
	return fmt.Errorf("no phase %q in this node's plan", name)
}

// resume takes over the attempts of earlier runs; a run that ended while
// "running" was killed or crashed, and is recorded as interrupted.
func (r *Runner) resume() {
	prev, err := ReadResult(r.State.ResultFile())
	if err != nil || prev == nil {
		return
	}
	r.attempts = prev.Attempts
	if prev.Status == "running" {
		r.record(Attempt{Time: prev.Time, Phase: prev.Phase, Outcome: "interrupted",
			Error: "the run ended without a result (killed, crashed or the node went down) in phase " + prev.Phase})
	}
}

func (r *Runner) record(a Attempt) {
	r.attempts = append(r.attempts, a)
	if n := len(r.attempts); n > maxAttempts {
		r.attempts = r.attempts[n-maxAttempts:]
	}
}

// ReadResult reads a result file; a missing file is nil without error.
func ReadResult(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &res, nil
}

func (r *Runner) runOne(ctx context.Context, p Phase) error {
	r.notify("phase " + p.Name + ": " + p.Summary)
	// Retries within the phase (the phase's own, or a step's inside it,
	// named by what) are recorded as they happen.
	ctx = retry.WithObserver(ctx, func(what string, attempt int, err error) {
		r.Log.Warn("failed; trying again", "phase", p.Name, "what", what, "attempt", attempt, "error", err)
		text := err.Error()
		if what != "phase "+p.Name {
			text = what + ": " + text
		}
		r.record(Attempt{Time: time.Now().UTC(), Phase: p.Name, Outcome: "retried", Error: text})
		if werr := r.writeResult(Result{Status: "running", Phase: p.Name}); werr != nil {
			r.Log.Error("result file", "error", werr)
		}
	})
	if err := converge(ctx, p, r.Log, r.policy()); err != nil {
		return err
	}
	return r.State.Stamp(r.State.PhaseStamp(p.Name))
}

func (r *Runner) policy() retry.Policy {
	if r.Retry.Attempts == 0 && r.Retry.Timeout == 0 {
		return PhaseRetry
	}
	return r.Retry
}

// Converge brings each phase, in order, to the state its Check wants, without
// stamps: day-2 changes run again whenever asked, possibly with new inputs.
func Converge(ctx context.Context, phases []Phase, log *slog.Logger) error {
	for _, p := range phases {
		if err := converge(ctx, p, log, PhaseRetry); err != nil {
			return fmt.Errorf("step %s: %w", p.Name, err)
		}
	}
	return nil
}

// converge brings p about, trying again after a transient failure.
func converge(ctx context.Context, p Phase, log *slog.Logger, pol retry.Policy) error {
	return retry.Do(ctx, pol, "phase "+p.Name, func(ctx context.Context) error { return convergeOnce(ctx, p, log) })
}

// convergeOnce applies p unless its Check says it is in place, then checks again.
func convergeOnce(ctx context.Context, p Phase, log *slog.Logger) error {
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
	r.record(Attempt{Time: time.Now().UTC(), Phase: p.Name, Outcome: "failed", Error: err.Error()})
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
	res.Attempts = r.attempts
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return r.State.Write(r.State.ResultFile(), append(data, '\n'))
}
