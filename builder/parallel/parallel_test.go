package parallel

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

func TestDoRunsEveryPieceAndJoinsErrors(t *testing.T) {
	var ran atomic.Int32
	err := Do(5, func(i int) error {
		ran.Add(1)
		if i%2 == 1 {
			return fmt.Errorf("piece %d", i)
		}
		return nil
	})
	if ran.Load() != 5 {
		t.Errorf("ran %d of 5", ran.Load())
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 2 {
		t.Errorf("errors: %v", err)
	}
	if Do(0, nil) != nil {
		t.Error("no pieces, an error")
	}
}
