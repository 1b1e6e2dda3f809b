package bake

import (
	"xroad-appliance/builder/base"
	"xroad-appliance/builder/definition"
	"xroad-appliance/builder/packages"
)

// WithPlant makes o's build add files to the appliance layer's tree after
// its blob is made, before the secret scan.
func WithPlant(o Options, plant func(appDir string) error) Options {
	o.plant = plant
	return o
}

// LayerSpec is the package layer's spec for d on base b from repo.
func LayerSpec(d *definition.Resolved, repo *packages.Repo, b *base.Base) *packages.Spec {
	return inputsOf(d, "test").packagesOn(b, repo)
}
