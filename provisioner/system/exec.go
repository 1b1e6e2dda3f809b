// Package system is how the provisioner touches a node: commands run as a
// given user, files written with owner and mode, systemd driven over D-Bus.
package system

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// Cmd is one command. Args never carry secrets: those go through files or Stdin.
type Cmd struct {
	Args  []string
	Env   []string // extra environment, KEY=VALUE
	User  string   // run as this user; "" runs as the caller
	Dir   string
	Stdin io.Reader
}

// Run runs a command and returns its standard output. On failure the error
// names the command and carries the tail of its standard error.
func Run(ctx context.Context, c Cmd) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}, c.Env...)
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	if c.User != "" {
		id, err := LookupIDs(c.User)
		if err != nil {
			return nil, err
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id.UID, Gid: id.GID}}
		cmd.Env = append(cmd.Env, "HOME="+id.Home, "USER="+c.User)
		if cmd.Dir == "" {
			cmd.Dir = "/tmp" // guide 4.2.1.2: initdb is run from a directory postgres can read
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w%s", strings.Join(c.Args, " "), err, tail(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	if len(s) > 600 {
		s = "..." + s[len(s)-600:]
	}
	return ": " + s
}

// IDs are a user's numeric ids and home.
type IDs struct {
	UID, GID uint32
	Home     string
}

// LookupIDs resolves a user name.
func LookupIDs(name string) (IDs, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return IDs{}, fmt.Errorf("user %s: %w", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return IDs{UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}, nil
}

// LookupGroupID resolves a group name.
func LookupGroupID(name string) (uint32, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("group %s: %w", name, err)
	}
	gid, _ := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(gid), nil
}

// UserExists reports whether a user exists.
func UserExists(name string) bool {
	_, err := user.Lookup(name)
	return err == nil
}

// GroupExists reports whether a group exists.
func GroupExists(name string) bool {
	_, err := user.LookupGroup(name)
	return err == nil
}
