package disk

import (
	"context"
	"fmt"

	"xroad-appliance/builder/run"
)

// tools maps each external program a disk output needs to how to get it,
// for the error that names what to install.
var tools = map[string]string{
	"mkfs.ext4": "apt-get install e2fsprogs",
	"debugfs":   "apt-get install e2fsprogs",
	"qemu-img":  "apt-get install qemu-utils",
	"tar":       "apt-get install tar (GNU tar)",
}

// needTools fails naming every missing program and its package.
func needTools(names ...string) error {
	want := map[string]string{}
	for _, name := range names {
		want[name] = tools[name]
	}
	if err := run.Need(want); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	return nil
}

// command runs name with args and env added to a fixed, minimal environment
// (the tools must not pick up the caller's locale or e2fsprogs settings). It
// returns stdout and stderr separately; on failure the error carries the end
// of both.
func command(ctx context.Context, env []string, name string, args ...string) (stdout, stderr []byte, err error) {
	return run.Cmd{Env: env, Clean: true}.Streams(ctx, name, args...)
}
