package kit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addCorpus seeds f with the hostile-input corpus of kind (cmd/testdata/hostile).
func addCorpus(f *testing.F, kind string) {
	files, err := filepath.Glob(filepath.Join("..", "..", "cmd", "testdata", "hostile", kind, "*.yaml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no %s corpus: %v", kind, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParseSpec: go test -run '^$' -fuzz=FuzzParseSpec -fuzzminimizetime=100x ./builder/kit/
//
// A spec is an operator's file; whatever it holds, ParseSpec must not panic,
// its errors must carry no raw control characters (values are quoted), and a
// spec it accepts must read back the same from its own Marshal.
func FuzzParseSpec(f *testing.F) {
	demo, err := os.ReadFile(filepath.Join("..", "..", "test", "demo", "cluster.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(demo)
	addCorpus(f, "spec")

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec(data)
		if err != nil {
			if msg := err.Error(); strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("error carries a control character: %q", msg)
			}
			return
		}
		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if _, err := ParseSpec(out); err != nil {
			t.Fatalf("re-parse of Marshal output: %v", err)
		}
	})
}
