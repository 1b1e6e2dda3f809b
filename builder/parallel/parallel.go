// Package parallel runs independent pieces of a build side by side.
package parallel

import (
	"errors"
	"sync"
)

// Do runs fn(0) … fn(n-1) at once and joins every error, so a failure of
// one piece does not hide another's.
func Do(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
