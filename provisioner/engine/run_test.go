package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/retry"
)

// counter is a phase whose end state is a file; it counts its applies.
func counter(dir, name string, applies *int, fail *bool) Phase {
	target := filepath.Join(dir, name)
	return Phase{
		Name: name,
		Check: func(context.Context) (bool, error) {
			_, err := os.Stat(target)
			return err == nil, nil
		},
		Apply: func(context.Context) error {
			if fail != nil && *fail {
				return errors.New("boom")
			}
			*applies++
			return os.WriteFile(target, nil, 0o644)
		},
	}
}

func TestRunResumesAfterFailureAndSkipsDone(t *testing.T) {
	dir := t.TempDir()
	r := &Runner{State: nodestate.Open(filepath.Join(dir, "state")), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Command: "xroad-node provision"}
	var a, b, c int
	failB := true
	phases := []Phase{counter(dir, "a", &a, nil), counter(dir, "b", &b, &failB), counter(dir, "c", &c, nil)}
	err := r.Run(context.Background(), phases)
	if err == nil || !strings.Contains(err.Error(), "phase b") {
		t.Fatalf("err = %v", err)
	}
	var res Result
	data, _ := os.ReadFile(r.State.ResultFile())
	json.Unmarshal(data, &res)
	if res.Status != "failed" || res.Phase != "b" || !strings.Contains(res.Retry, "--phase b") {
		t.Fatalf("result = %+v", res)
	}
	if _, err := os.Stat(r.State.ProvisionedStamp()); err == nil {
		t.Fatal("final stamp written after a failure")
	}
	failB = false
	if err := r.Run(context.Background(), phases); err != nil {
		t.Fatal(err)
	}
	if a != 1 || b != 1 || c != 1 {
		t.Fatalf("applies a=%d b=%d c=%d, want 1 each", a, b, c)
	}
	if err := r.Run(context.Background(), phases); err != nil {
		t.Fatal(err)
	}
	if a != 1 || b != 1 || c != 1 {
		t.Fatal("a second run applied again")
	}
	if got := r.Done(phases); len(got) != 3 {
		t.Fatalf("done = %v", got)
	}
}

func TestCheckInPlaceIsStampedWithoutApply(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), nil, 0o644)
	r := &Runner{State: nodestate.Open(filepath.Join(dir, "state")), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var a int
	if err := r.Run(context.Background(), []Phase{counter(dir, "a", &a, nil)}); err != nil {
		t.Fatal(err)
	}
	if a != 0 {
		t.Fatal("applied a phase whose check passed")
	}
}

func TestApplyThatDoesNotReachTheEndStateFails(t *testing.T) {
	r := &Runner{State: nodestate.Open(t.TempDir()), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p := Phase{Name: "liar", Check: func(context.Context) (bool, error) { return false, nil }, Apply: func(context.Context) error { return nil }}
	if err := r.Run(context.Background(), []Phase{p}); err == nil {
		t.Fatal("a phase whose check fails after apply was stamped")
	}
}

// An Always phase is applied again by a run that resumes after a crash, even
// though its stamp exists, and not at all once the node is provisioned.
func TestAlwaysPhaseRerunsUntilProvisioned(t *testing.T) {
	dir := t.TempDir()
	r := &Runner{State: nodestate.Open(filepath.Join(dir, "state")), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	// Like queued start jobs: in place only within the run that queued them.
	queued, thisRun := 0, false
	always := Phase{Name: "services", Always: true,
		Check: func(context.Context) (bool, error) { return thisRun, nil },
		Apply: func(context.Context) error { queued++; thisRun = true; return nil }}
	var a int
	failLast := true
	phases := []Phase{always, counter(dir, "a", &a, &failLast)}
	if err := r.Run(context.Background(), phases); err == nil {
		t.Fatal("want the failing phase to fail the run")
	}
	if queued != 1 {
		t.Fatalf("queued %d times, want 1", queued)
	}
	failLast, thisRun = false, false
	if err := r.Run(context.Background(), phases); err != nil {
		t.Fatal(err)
	}
	if queued != 2 {
		t.Fatalf("resumed run did not apply the Always phase again (queued %d)", queued)
	}
	thisRun = false
	if err := r.Run(context.Background(), phases); err != nil || queued != 2 {
		t.Fatalf("a provisioned node ran the Always phase: %v, queued %d", err, queued)
	}
}

// A phase that fails transiently is tried again within the run, and each
// retried failure, a failed run and a run that ended without a result
// (killed) are recorded in result.json's attempts.
func TestTransientFailureIsRetriedAndRecorded(t *testing.T) {
	dir := t.TempDir()
	r := &Runner{State: nodestate.Open(filepath.Join(dir, "state")), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Retry: retry.Policy{First: time.Millisecond, Max: time.Millisecond, Attempts: 3}}
	tries := 0
	flaky := Phase{Name: "basebackup",
		Check: func(context.Context) (bool, error) { return tries >= 2, nil },
		Apply: func(context.Context) error {
			tries++
			if tries == 1 {
				return errors.New("pg_basebackup: error: could not receive data from WAL stream: SSL connection has been closed unexpectedly")
			}
			return nil
		}}
	// A run killed in phase "a" left result.json saying it was running.
	os.MkdirAll(r.State.Dir(), 0o755)
	os.WriteFile(r.State.ResultFile(), []byte(`{"status":"running","phase":"a","done":[],"time":"2026-01-02T03:04:05Z"}`), 0o644)
	if err := r.Run(context.Background(), []Phase{flaky}); err != nil {
		t.Fatal(err)
	}
	res, err := ReadResult(r.State.ResultFile())
	if err != nil || res.Status != "provisioned" || len(res.Attempts) != 2 {
		t.Fatalf("result %+v, %v", res, err)
	}
	if a := res.Attempts[0]; a.Outcome != "interrupted" || a.Phase != "a" {
		t.Errorf("first attempt %+v", a)
	}
	if a := res.Attempts[1]; a.Outcome != "retried" || a.Phase != "basebackup" || !strings.Contains(a.Error, "WAL stream") {
		t.Errorf("second attempt %+v", a)
	}

	// A permanent failure is tried once and ends the run as failed.
	r2 := &Runner{State: nodestate.Open(filepath.Join(dir, "state2")), Log: r.Log, Retry: r.Retry}
	n := 0
	foreign := Phase{Name: "basebackup", Check: func(context.Context) (bool, error) { return false, nil },
		Apply: func(context.Context) error { n++; return errors.New("refusing to replace another cluster's data") }}
	if err := r2.Run(context.Background(), []Phase{foreign}); err == nil || n != 1 {
		t.Fatalf("err %v after %d applies", err, n)
	}
	res, _ = ReadResult(r2.State.ResultFile())
	if len(res.Attempts) != 1 || res.Attempts[0].Outcome != "failed" {
		t.Fatalf("attempts %+v", res.Attempts)
	}
}
