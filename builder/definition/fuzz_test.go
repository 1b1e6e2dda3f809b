package definition

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: go test -run '^$' -fuzz=FuzzParse -fuzzminimizetime=100x ./builder/definition/
//
// Whatever an image definition holds, Parse must not panic and its errors
// must name the file and carry no raw control characters.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{
		filepath.Join("..", "..", "images", "*.yaml"),
		filepath.Join("..", "..", "cmd", "testdata", "hostile", "definition", "*.yaml"),
	} {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			f.Fatalf("no seeds in %s: %v", pattern, err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("images/fuzz.yaml", data)
		if err == nil {
			return
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "images/fuzz.yaml: ") {
			t.Fatalf("error does not name the file: %q", msg)
		}
		if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("error carries a control character: %q", msg)
		}
	})
}
