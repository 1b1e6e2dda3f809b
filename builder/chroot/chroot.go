// Package chroot runs a package manager inside an image's root: proc,
// empty /run and /tmp, host directories bound in, the build host's resolver,
// and no service starts from maintainer scripts. Base bootstrapping and the
// package layer both install through it.
package chroot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"

	"xroad-appliance/builder/rootfs"
	"xroad-appliance/builder/run"
)

// policyRC forbids every service start from maintainer scripts (invoke-rc.d,
// deb-systemd-invoke): an image build must not start daemons.
const policyRC = "usr/sbin/policy-rc.d"

// Session is a root prepared for running a package manager in it: proc,
// empty /run and /tmp, package caches bound from outside the image, the local
// repository read-only, service starts forbidden. Close undoes all of it.
type Session struct {
	root   string
	mounts rootfs.Mounts
	policy bool
	saved  bool // the base's own policy-rc.d is aside
	log    io.Writer
	env    []string
}

const savedSuffix = ".xroad-image-saved"

// Bind is a host directory bound into the chroot.
type Bind struct {
	Src, Dst string // Dst is a path inside the image
	ReadOnly bool
}

// Open prepares root; env is added to every command's environment (the
// profile's install.env); every command's output goes to log too.
func Open(root string, binds []Bind, log io.Writer, env []string) (s *Session, err error) {
	s = &Session{root: root, log: log, env: append(slices.Clone(chrootEnv), env...)}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()
	for _, m := range []struct {
		dst   string
		mount func(string) error
	}{
		{"proc", s.mounts.Proc},
		{"run", func(p string) error { return s.mounts.Tmpfs(p, 0o755) }},
		{"tmp", func(p string) error { return s.mounts.Tmpfs(p, 0o777|os.ModeSticky) }},
	} {
		target := filepath.Join(root, m.dst)
		if err := rootfs.MkdirFor(target); err != nil {
			return nil, err
		}
		if err := m.mount(target); err != nil {
			return nil, err
		}
	}
	for _, b := range binds {
		target := filepath.Join(root, b.Dst)
		if err := rootfs.MkdirFor(target); err != nil {
			return nil, err
		}
		if err := s.mounts.Bind(b.Src, target, b.ReadOnly); err != nil {
			return nil, err
		}
	}
	// Name resolution for online repositories: the build host's resolver,
	// over the image's file only while the step runs.
	if fi, err := os.Lstat(filepath.Join(root, "etc/resolv.conf")); err == nil && fi.Mode().IsRegular() {
		if err := s.mounts.Bind("/etc/resolv.conf", filepath.Join(root, "etc/resolv.conf"), true); err != nil {
			return nil, err
		}
	}
	policy := filepath.Join(root, policyRC)
	if _, err := os.Lstat(policy); err == nil {
		// The base's own policy (container images ship one) is put back afterwards.
		if err := os.Rename(policy, policy+savedSuffix); err != nil {
			return nil, err
		}
		s.saved = true
	}
	if err := os.MkdirAll(filepath.Dir(policy), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(policy, []byte("#!/bin/sh\n# image build: no service starts\nexit 101\n"), 0o755); err != nil {
		return nil, err
	}
	s.policy = true
	return s, nil
}

// chrootEnv is the environment of every command run in the chroot, before
// the profile's install.env (DEBIAN_FRONTEND, XROAD_IGNORE_DATABASE_SETUP).
var chrootEnv = []string{
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	"LC_ALL=C.UTF-8",
	"LANG=C.UTF-8",
	"HOME=/root",
}

// Root is the directory the session's commands run in.
func (s *Session) Root() string { return s.root }

// Log is where the session's commands' output goes.
func (s *Session) Log() io.Writer { return s.log }

// Run runs argv inside the chroot and returns its combined output.
func (s *Session) Run(ctx context.Context, argv ...string) ([]byte, error) {
	return run.Cmd{Env: s.env, Log: s.log}.Combined(ctx, "chroot", append([]string{s.root}, argv...)...)
}

// RunWithInput runs argv inside the chroot with stdin as its input.
func (s *Session) RunWithInput(ctx context.Context, stdin []byte, argv ...string) ([]byte, error) {
	return run.Cmd{Env: s.env, Log: s.log, Stdin: bytes.NewReader(stdin)}.Combined(ctx, "chroot", append([]string{s.root}, argv...)...)
}

// Output runs argv inside the chroot and returns its standard output.
func (s *Session) Output(ctx context.Context, argv ...string) ([]byte, error) {
	return run.Cmd{Env: s.env}.Output(ctx, "chroot", append([]string{s.root}, argv...)...)
}

// Close unmounts everything Open mounted and puts the root's own
// policy-rc.d back.
func (s *Session) Close() error {
	err := s.mounts.Close()
	policy := filepath.Join(s.root, policyRC)
	if s.policy {
		if rmErr := os.Remove(policy); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
		s.policy = false
	}
	if s.saved {
		err = errors.Join(err, os.Rename(policy+savedSuffix, policy))
		s.saved = false
	}
	return err
}
