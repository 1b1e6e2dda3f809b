package disk

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// tools maps each external program a disk output needs to the Debian package
// that ships it, for the error that names what to install.
var tools = map[string]string{
	"mkfs.ext4": "e2fsprogs",
	"debugfs":   "e2fsprogs",
	"qemu-img":  "qemu-utils",
}

// needTools fails naming every missing program and its package.
func needTools(names ...string) error {
	var missing []string
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			missing = append(missing, fmt.Sprintf("%s (apt-get install %s)", name, tools[name]))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("disk: missing tools: %s", strings.Join(missing, ", "))
	}
	return nil
}

// outputTail is how much of a failed tool's output an error keeps.
const outputTail = 3000

// command runs name with args and env added to a fixed, minimal environment
// (the tools must not pick up the caller's locale or e2fsprogs settings). It
// returns stdout and stderr separately; on failure the error carries the end
// of both. Cancelling ctx kills the whole process group.
func command(ctx context.Context, env []string, name string, args ...string) (stdout, stderr []byte, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		tail := strings.TrimSpace(out.String() + "\n" + errOut.String())
		if len(tail) > outputTail {
			tail = "..." + tail[len(tail)-outputTail:]
		}
		return out.Bytes(), errOut.Bytes(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail)
	}
	return out.Bytes(), errOut.Bytes(), nil
}
