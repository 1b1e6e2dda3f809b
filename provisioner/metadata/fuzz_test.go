package metadata

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParse: go test -run '^$' -fuzz=FuzzParse -fuzzminimizetime=5s ./provisioner/metadata/
// (the seeds are large documents; unbounded minimisation of a new interesting
// input stalls the fuzzer for a minute and more).
//
// The seeds hold freshly generated private keys: never commit a failing
// input from testdata/fuzz without replacing its keys.
func FuzzParse(f *testing.F) {
	primary, secondary := marshal(f, primaryDoc(f)), marshal(f, secondaryDoc(f))
	f.Add([]byte(primary))
	f.Add([]byte(secondary))
	for _, tc := range badCases(f) {
		base := primaryDoc
		if tc.base != nil {
			base = tc.base
		}
		d := base(f)
		if tc.edit != nil {
			tc.edit(d)
		}
		text := marshal(f, d)
		if tc.text != nil {
			text = tc.text(text)
		}
		if len(text) <= 64<<10 {
			f.Add([]byte(text))
		}
	}
	f.Add([]byte("a: &a [*a, *a]\nb: *a\n"))
	f.Add([]byte("version: " + Version + "\nrole: primary\n--- \n...\n"))
	f.Add([]byte("\xef\xbb\xbfversion: 1\n\x00"))

	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			if strings.Contains(err.Error(), testPassword) {
				t.Fatalf("error quotes the password: %v", err)
			}
			return
		}
		if err := doc.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate rejects: %v", err)
		}
		out, err := doc.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of Marshal output: %v", err)
		}
		if !reflect.DeepEqual(doc, again) {
			t.Fatalf("round trip changed the document")
		}
	})
}
