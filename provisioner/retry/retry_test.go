package retry

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

var fast = Policy{First: time.Millisecond, Max: 4 * time.Millisecond, Attempts: 4}

func TestDoRetriesTransientUntilSuccess(t *testing.T) {
	var seen []int
	ctx := WithObserver(context.Background(), func(what string, attempt int, err error) { seen = append(seen, attempt) })
	n := 0
	err := Do(ctx, fast, "base backup", func(context.Context) error {
		n++
		if n < 3 {
			return errors.New("pg_basebackup: error: could not receive data from WAL stream: SSL connection has been closed unexpectedly")
		}
		return nil
	})
	if err != nil || n != 3 || len(seen) != 2 || seen[1] != 2 {
		t.Fatalf("err %v, tries %d, observed %v", err, n, seen)
	}
}

func TestDoStopsAtPermanentAndAtTheBound(t *testing.T) {
	n := 0
	foreign := errors.New("holds the cluster with system identifier 1; refusing to replace it")
	if err := Do(context.Background(), fast, "x", func(context.Context) error { n++; return foreign }); !errors.Is(err, foreign) || n != 1 {
		t.Fatalf("permanent: err %v after %d tries", err, n)
	}
	n = 0
	reset := fmt.Errorf("read: %w", syscall.ECONNRESET)
	err := Do(context.Background(), fast, "x", func(context.Context) error { n++; return reset })
	if !errors.Is(err, syscall.ECONNRESET) || n != fast.Attempts {
		t.Fatalf("bounded: err %v after %d tries", err, n)
	}
	n = 0
	if err := Do(context.Background(), fast, "x", func(context.Context) error { n++; return Final(reset) }); err == nil || n != 1 {
		t.Fatalf("Final: err %v after %d tries", err, n)
	}
}

func TestDoEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := Policy{First: time.Hour, Max: time.Hour}
	done := make(chan error)
	go func() {
		done <- Do(ctx, p, "x", func(context.Context) error { return syscall.ECONNREFUSED })
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Do slept through a cancelled context")
	}
}

func TestUntilTimesOutFinal(t *testing.T) {
	err := Until(context.Background(), Policy{First: time.Millisecond, Max: time.Millisecond, Timeout: 20 * time.Millisecond}, "peer",
		func(context.Context) (bool, error) { return false, syscall.ECONNREFUSED })
	if err == nil || IsTransient(err) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err %v transient %v", err, IsTransient(err))
	}
}

func TestIsTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{&pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, true},
		{&pgconn.PgError{Code: "28000", Message: "no pg_hba.conf entry"}, false},
		{&pgconn.PgError{Code: "42P04", Message: "database exists"}, false},
		{errors.New(`pg_basebackup: error: connection to server at "10.0.0.1", port 5433 failed: Connection refused`), true},
		{errors.New(`pg_basebackup: error: connection to server at "10.0.0.1", port 5433 failed: FATAL:  no pg_hba.conf entry for replication connection`), false},
		{errors.New("metadata: field primary.address: not an address"), false},
		{fmt.Errorf("x: %w", context.Canceled), false},
	} {
		if got := IsTransient(c.err); got != c.want {
			t.Errorf("IsTransient(%v) = %v", c.err, got)
		}
	}
}

func TestEvery(t *testing.T) {
	ctx := context.Background()
	n := 0
	if err := Every(ctx, time.Millisecond, time.Second, func(context.Context) (bool, error) { n++; return n == 3, nil }); err != nil || n != 3 {
		t.Errorf("held at the third check: %v after %d", err, n)
	}
	if err := Every(ctx, time.Millisecond, 5*time.Millisecond, func(context.Context) (bool, error) { return false, nil }); !errors.Is(err, ErrTimedOut) {
		t.Errorf("never holds: %v", err)
	}
	stop := errors.New("stop")
	if err := Every(ctx, time.Millisecond, time.Second, func(context.Context) (bool, error) { return false, stop }); err != stop {
		t.Errorf("a failing check: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := Every(cancelled, time.Hour, time.Hour, func(context.Context) (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
