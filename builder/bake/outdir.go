package bake

import "errors"

// ErrOutExists is returned when the output directory holds something and
// Force was not given.
var ErrOutExists = errors.New("output directory is not empty")
