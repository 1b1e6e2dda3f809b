package packages

import (
	"context"
	"errors"
	"io"
	"slices"
)

// aptBootstrapEnv keeps apt and debconf from asking while a base is made
// (the package layer takes the profile's install.env instead).
var aptBootstrapEnv = []string{"DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true"}

// AptInstall brings root up to date with the sources it already has (a
// fresh debootstrap's release with its update and security pockets) and
// installs pkgs, with the same chroot session as the package layer, then
// drops the downloaded packages. Bootstrapping resolves
// dependencies with apt rather than debootstrap's --include, which cannot
// pick a provider of a virtual package.
func AptInstall(ctx context.Context, root string, pkgs []string, log io.Writer) (err error) {
	s, err := openSession(root, nil, log, aptBootstrapEnv)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.close()) }()
	opts := []string{"-q", "-o", "Dpkg::Use-Pty=0"}
	if _, err := s.run(ctx, slices.Concat([]string{"apt-get"}, opts, []string{"update", "--error-on=any"})...); err != nil {
		return err
	}
	if _, err := s.run(ctx, slices.Concat([]string{"apt-get"}, opts, []string{"dist-upgrade", "-y"})...); err != nil {
		return err
	}
	if _, err := s.run(ctx, slices.Concat([]string{"apt-get"}, opts, []string{"install", "-y", "--no-install-recommends"}, pkgs)...); err != nil {
		return err
	}
	_, err = s.run(ctx, "apt-get", "clean")
	return err
}
