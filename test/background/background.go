// Package background runs a test's server in a goroutine for as long as the
// test needs it.
package background

import (
	"context"
	"sync"
	"testing"
)

// Run runs serve until the returned stop is called or the test ends; an
// error serve returns fails the test. stop waits for serve to return.
func Run(t testing.TB, serve func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
