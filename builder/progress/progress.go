// Package progress prints the progress lines of a build: one line when a
// long step starts, one when it ends with its duration, and a periodic line
// while a long copy runs.
package progress

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Func receives progress lines; a nil Func discards them.
type Func func(line string)

// To prints lines to w, each prefixed with the time since start.
func To(w io.Writer) Func {
	start := time.Now()
	var mu sync.Mutex
	return func(line string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "[%6.1fs] %s\n", time.Since(start).Seconds(), line)
	}
}

// Printf prints one line.
func (f Func) Printf(format string, args ...any) {
	if f != nil {
		f(fmt.Sprintf(format, args...))
	}
}

// Step prints that a step starts and returns the function that reports its end.
func (f Func) Step(format string, args ...any) (done func(err error)) {
	name := fmt.Sprintf(format, args...)
	start := time.Now()
	f.Printf("%s ...", name)
	return func(err error) {
		if err != nil {
			f.Printf("%s: failed after %s", name, time.Since(start).Round(100*time.Millisecond))
			return
		}
		f.Printf("%s: done in %s", name, time.Since(start).Round(100*time.Millisecond))
	}
}

// Writer counts bytes written through it and prints the count every
// interval until Stop is called.
type Writer struct {
	w    io.Writer
	n    atomic.Int64
	stop chan struct{}
	once sync.Once
}

// Count wraps w; every interval f prints "name: N MB".
func (f Func) Count(w io.Writer, name string, interval time.Duration) *Writer {
	cw := &Writer{w: w, stop: make(chan struct{})}
	if f != nil {
		go func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-cw.stop:
					return
				case <-t.C:
					f.Printf("%s: %d MB", name, cw.n.Load()>>20)
				}
			}
		}()
	}
	return cw
}

func (c *Writer) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// Stop ends the periodic lines.
func (c *Writer) Stop() { c.once.Do(func() { close(c.stop) }) }
