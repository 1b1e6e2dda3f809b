package build

// WithPlant makes o's build add files to the appliance layer's tree after
// its blob is made, before the secret scan.
func WithPlant(o Options, plant func(appDir string) error) Options {
	o.plant = plant
	return o
}

// LayerSpec is the package layer's spec for d.
var LayerSpec = layerSpec
