package units

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteTree writes files at their image paths under root. Each file is written
// to a temporary name and renamed, so a reader never sees half a file.
func WriteTree(root string, files []File) error {
	for _, f := range files {
		dst := filepath.Join(root, f.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		tmp := dst + ".tmp"
		if err := os.WriteFile(tmp, f.Content, f.Mode); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		if err := os.Chmod(tmp, f.Mode); err != nil {
			return err
		}
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
	}
	return nil
}
