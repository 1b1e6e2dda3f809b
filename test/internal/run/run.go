// Package run executes the external tools the test harness builds with. It is
// the image builder's runner (builder/run) under the name the harness uses.
package run

import brun "xroad-appliance/builder/run"

// Cmd describes one invocation; see builder/run.Cmd.
type Cmd = brun.Cmd

// Need fails, naming where to get them, when tools are missing.
func Need(tools map[string]string) error { return brun.Need(tools) }
