package bake_test

import (
	"path/filepath"
	"slices"
	"testing"

	"xroad-appliance/builder/bake"
	"xroad-appliance/builder/base"
	"xroad-appliance/builder/definition"
	"xroad-appliance/builder/packages"
)

// TestLayerSpecCarriesThePackages: the package layer installs what the
// definition resolved, the packages named for the kernel among them (the
// GCE target's modules-extra on Ubuntu).
func TestLayerSpecCarriesThePackages(t *testing.T) {
	d, err := definition.Load(filepath.Join("..", "..", "images", "securityserver.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(definition.Overrides{Profile: "ubuntu-24.04", Outputs: []string{"raw", "gce"}}); err != nil {
		t.Fatal(err)
	}
	r, err := d.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	s := bake.LayerSpec(r, &packages.Repo{}, &base.Base{Rootfs: "/base", Key: "k"})
	if !slices.Equal(s.Packages, r.Packages) || !slices.Equal(s.XRoadPackages, r.XRoadPackages) || s.Version != r.Version {
		t.Errorf("spec packages %v %v %s, resolved %v %v %s", s.Packages, s.XRoadPackages, s.Version, r.Packages, r.XRoadPackages, r.Version)
	}
	if want := []string{"linux-modules-extra-{version}"}; !slices.Equal(s.KernelPackages, want) {
		t.Errorf("kernel packages %v, want %v", s.KernelPackages, want)
	}
	if s.BaseRootfs != "/base" || s.BaseKey != "k" || !slices.Equal(s.Remove, r.Remove) {
		t.Errorf("spec base %s %s, removal %v", s.BaseRootfs, s.BaseKey, s.Remove)
	}
}
