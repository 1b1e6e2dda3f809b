// Package retry is the provisioner's one backoff loop: bounded, jittered and
// ctx-aware. Do retries an operation whose failure is transient (a peer not
// ready yet, a connection reset, a primary restarting, a base backup broken
// off); Until polls a condition with backoff, Every at a fixed interval. A
// permanent failure (a bad document, a foreign data directory, a refused
// operation) ends Do at once.
package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"xroad-appliance/provisioner/system"
)

// Policy bounds a retry loop. The delay starts at First, doubles up to Max
// and is jittered by ±50 %; the loop ends after Attempts tries (0: no
// bound) or once Timeout has passed (0: no bound).
type Policy struct {
	First, Max time.Duration
	Attempts   int
	Timeout    time.Duration
	// Transient decides which failures are tried again; nil is IsTransient.
	Transient func(error) bool
}

// Observer hears of every failure Do tries again: attempt is the number of
// the try that failed.
type Observer func(what string, attempt int, err error)

type observerKey struct{}

// WithObserver makes Do calls under ctx report their retried failures.
func WithObserver(ctx context.Context, o Observer) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

// Do runs fn until it succeeds, fails permanently, or p is spent; then it
// returns fn's last error.
func Do(ctx context.Context, p Policy, what string, fn func(context.Context) error) error {
	transient := p.Transient
	if transient == nil {
		transient = IsTransient
	}
	start, delay := time.Now(), p.First
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		if err == nil || !transient(err) {
			return err
		}
		if p.Attempts > 0 && attempt >= p.Attempts {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		if p.Timeout > 0 && time.Since(start)+delay > p.Timeout {
			return fmt.Errorf("%w (gave up after %s)", err, p.Timeout)
		}
		if o, ok := ctx.Value(observerKey{}).(Observer); ok && o != nil {
			o(what, attempt, err)
		}
		system.Notify(fmt.Sprintf("%s failed (attempt %d), trying again: %v", what, attempt, err))
		if err := sleep(ctx, jitter(delay)); err != nil {
			return err
		}
		delay = min(2*delay, p.Max)
	}
}

// Until polls cond until it holds or p's Timeout passes, keeping systemd's
// start timeout extended meanwhile. cond's errors are only remembered: "not
// yet" and "not reachable yet" are alike while waiting. The error after the
// timeout is Final, so that no outer Do waits the whole time again.
func Until(ctx context.Context, p Policy, what string, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(p.Timeout)
	delay := p.First
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			if last != nil {
				return Final(fmt.Errorf("waited %s for %s: %w", p.Timeout, what, last))
			}
			return Final(fmt.Errorf("waited %s for %s", p.Timeout, what))
		}
		system.Notify("waiting for " + what)
		system.ExtendTimeout(uint64((delay + 30*time.Second).Microseconds()))
		if err := sleep(ctx, jitter(delay)); err != nil {
			return err
		}
		delay = min(2*delay, p.Max)
	}
}

// ErrTimedOut is what Every returns when its condition did not hold in time.
var ErrTimedOut = errors.New("timed out")

// Every checks cond at a fixed interval until it holds (nil), it fails
// (its error), ctx ends (ctx's error) or timeout passes (ErrTimedOut): the
// day-2 commands' waits, which word their own timeout from what they saw.
func Every(ctx context.Context, interval, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond(ctx)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return ErrTimedOut
		}
		if err := sleep(ctx, interval); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// finalError marks a failure no retry can mend.
type finalError struct{ err error }

func (e finalError) Error() string { return e.err.Error() }
func (e finalError) Unwrap() error { return e.err }

// Final marks err as permanent: Do returns it at once, whatever it wraps.
func Final(err error) error {
	if err == nil {
		return nil
	}
	return finalError{err}
}

// transientText is what commands (pg_basebackup, psql, rsync, ssh) print
// when a peer went away or is not there yet.
var transientText = regexp.MustCompile(`(?i)` + strings.Join([]string{
	`could not receive data from WAL stream`,
	`server closed the connection unexpectedly`,
	`SSL connection has been closed unexpectedly`,
	`SSL SYSCALL error`,
	`connection reset by peer`,
	`connection refused`,
	`connection timed out`,
	`no route to host`,
	`network is unreachable`,
	`broken pipe`,
	`the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)`,
	`terminating connection due to administrator command`,
	`terminating walsender process`,
	`could not connect to (the )?server`,
	`timeout expired`,
	`unexpected EOF`,
}, "|"))

// IsTransient reports whether a failure may pass by itself: network errors,
// the server's connection-class and shutdown errors, and the text commands
// print for them. Everything else, and whatever Final marks, is permanent.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var fe finalError
	if errors.As(err, &fe) {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, crash, starting up
			pgErr.Code == "53300": // too many connections
			return true
		}
		return false
	}
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EHOSTUNREACH,
		syscall.ENETUNREACH, syscall.ETIMEDOUT, syscall.EPIPE, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	if pgconn.Timeout(err) {
		return true
	}
	return transientText.MatchString(err.Error())
}
