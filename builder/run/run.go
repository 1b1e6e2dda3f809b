// Package run executes the external tools the image builder and the test
// harness call (debootstrap, apt-get in a chroot, dnf, dpkg-deb, gpg) and turns
// a failure into an error that carries the tail of the tool's output.
package run

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Cmd describes one invocation. The zero value runs in the current directory
// with the current environment.
type Cmd struct {
	Dir string
	Env []string // added to the current environment
	// Clean starts from PATH and LC_ALL=C instead of the current
	// environment, for tools that must not pick up the caller's locale or
	// their own settings.
	Clean bool
	Stdin io.Reader // nil: no input
	// Stdout, if set, receives standard output as it is produced (for
	// output too large to hold); Streams then returns none.
	Stdout io.Writer
	// Log, if set, also receives the combined output as it is produced.
	Log io.Writer
}

// tailBytes is how much output an error keeps: enough for the reason.
const tailBytes = 4000

// Output runs name with args and returns its stdout. stderr (and, on failure,
// stdout) end up in the error.
func (c Cmd) Output(ctx context.Context, name string, args ...string) ([]byte, error) {
	stdout, _, err := c.Streams(ctx, name, args...)
	return stdout, err
}

// Streams runs name with args and returns stdout and stderr apart, for tools
// that report problems on stderr while exiting 0.
func (c Cmd) Streams(ctx context.Context, name string, args ...string) (stdout, stderr []byte, err error) {
	var out, errOut bytes.Buffer
	cmd := c.command(ctx, name, args...)
	cmd.Stdout = &out
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	cmd.Stderr = &errOut
	if c.Log != nil {
		cmd.Stderr = io.MultiWriter(&errOut, c.Log)
	}
	if err := cmd.Run(); err != nil {
		return out.Bytes(), errOut.Bytes(), c.fail(name, args, err, out.String()+errOut.String())
	}
	return out.Bytes(), errOut.Bytes(), nil
}

// Combined runs name with args and returns stdout and stderr interleaved.
func (c Cmd) Combined(ctx context.Context, name string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	cmd := c.command(ctx, name, args...)
	var w io.Writer = &out
	if c.Log != nil {
		w = io.MultiWriter(&out, c.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return out.Bytes(), c.fail(name, args, err, out.String())
	}
	return out.Bytes(), nil
}

// Run is Combined without the output.
func (c Cmd) Run(ctx context.Context, name string, args ...string) error {
	_, err := c.Combined(ctx, name, args...)
	return err
}

func (c Cmd) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	// Cancelling kills the whole process group: debootstrap and apt leave
	// dpkg and maintainer scripts running if only the parent dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	switch {
	case c.Clean:
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}, c.Env...)
	case len(c.Env) > 0:
		cmd.Env = append(os.Environ(), c.Env...)
	}
	return cmd
}

func (c Cmd) fail(name string, args []string, err error, output string) error {
	output = strings.TrimSpace(output)
	if len(output) > tailBytes {
		output = "..." + output[len(output)-tailBytes:]
	}
	if output == "" {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, output)
}

// Need fails, naming where to get them, when tools are missing. tools maps
// a program to a hint such as "apt-get install dpkg-dev".
func Need(tools map[string]string) error {
	var missing []string
	for tool, hint := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s)", tool, hint))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("missing tools: %s", strings.Join(missing, ", "))
	}
	return nil
}
