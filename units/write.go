package units

import (
	"fmt"
	"os"
	"path/filepath"

	"xroad-appliance/provisioner/atomicfile"
)

// WriteTree writes files at their image paths under root, each atomically.
func WriteTree(root string, files []File) error {
	for _, f := range files {
		dst := filepath.Join(root, f.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := atomicfile.Write(dst, f.Content, f.Mode); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
	}
	return nil
}
