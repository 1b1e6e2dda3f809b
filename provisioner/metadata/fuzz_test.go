package metadata

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse: go test -run '^$' -fuzz=FuzzParse -fuzzminimizetime=100x ./provisioner/metadata/
// (the seeds are large documents; minimising each new interesting input for
// the default 60 s, or any time bound, leaves the fuzzer at 0 execs/s).
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

// FuzzFromUserData: go test -run '^$' -fuzz=FuzzFromUserData -fuzzminimizetime=100x ./provisioner/metadata/
//
// User-data is what a seed volume hands a node at first boot: taking the role
// document out of it must never panic, and its errors must neither quote the
// password nor carry raw control characters.
func FuzzFromUserData(f *testing.F) {
	primary := []byte(marshal(f, primaryDoc(f)))
	for _, enc := range []string{"", "b64", "gz+b64"} {
		f.Add(cloudConfigFor(f, primary, enc, "'0600'"))
	}
	f.Add(cloudConfigFor(f, primary, "b64", "0600"))
	f.Add(cloudConfigFor(f, primary, "b64", "'0644'"))
	f.Add(cloudConfigFor(f, primary, "", ""))
	f.Add(append(cloudConfigFor(f, primary, "b64", "'0600'"), "---\n#cloud-config\nwrite_files: []\n"...))
	f.Add([]byte("#cloud-config\nwrite_files: [\n  " + testPassword + "\n"))
	f.Add([]byte("#cloud-config\nwrite_files:\n  - path: " + RoleFile + "\n    content: {a: " + testPassword + "}\n"))
	f.Add([]byte("#cloud-config\nwrite_files:\n  - path: " + RoleFile + "\n    permissions: '0600'\n    " + testPassword + ": x\n"))
	f.Add([]byte("#cloud-config\na: &a [*a, *a]\n"))
	f.Add([]byte("#!/bin/sh\necho hi\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := FromUserData(data)
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, testPassword) {
				t.Fatalf("error quotes the password: %v", err)
			}
			if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("error carries a control character: %q", msg)
			}
			return
		}
		if len(doc) > MaxSize+1 {
			t.Fatalf("a %d-byte document came out of user-data", len(doc))
		}
		if _, err := Parse(doc); err != nil && strings.Contains(err.Error(), testPassword) {
			t.Fatalf("error quotes the password: %v", err)
		}
	})
}

// FuzzParseSeed: go test -run '^$' -fuzz=FuzzParseSeed -fuzzminimizetime=100x ./provisioner/metadata/
//
// A seed is a role document or a join document: telling them apart and
// decoding either must never panic, and its errors must quote neither the
// password nor the token's secret.
func FuzzParseSeed(f *testing.F) {
	join := marshalJoin(f, joinDoc(f))
	f.Add([]byte(join))
	f.Add([]byte(marshal(f, joinPrimaryDoc(f))))
	f.Add([]byte(marshal(f, secondaryDoc(f))))
	f.Add([]byte(join + "node: ss4\n"))
	f.Add([]byte(strings.Replace(join, "role: secondary", "role: primary", 1)))
	f.Add([]byte(strings.Replace(join, "port: 5590", "port: 22", 1)))
	f.Add([]byte(strings.Replace(join, testToken, testPassword, 1)))
	f.Add([]byte("join: ~\n"))
	f.Add([]byte("join: &j {primary: *j}\n"))
	f.Add([]byte("{join: [], node: }\n"))

	secret := strings.TrimPrefix(testToken, "k7x2qa.")
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, jd, err := ParseSeed(data)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, testPassword) || strings.Contains(msg, secret) {
				t.Fatalf("error quotes a secret: %v", err)
			}
			if doc != nil || jd != nil {
				t.Fatal("a document besides the error")
			}
			return
		}
		if (doc == nil) == (jd == nil) {
			t.Fatalf("doc %v, join %v", doc, jd)
		}
		if doc != nil {
			if _, err := Parse(data); err != nil {
				t.Fatalf("ParseSeed took a role document Parse refuses: %v", err)
			}
			return
		}
		if err := jd.Validate(); err != nil {
			t.Fatalf("ParseSeed accepted what Validate rejects: %v", err)
		}
		if _, err := Parse(data); !errors.Is(err, ErrJoinDocument) {
			t.Fatalf("Parse of a join document: %v", err)
		}
		out, err := jd.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		_, again, err := ParseSeed(out)
		if err != nil || !reflect.DeepEqual(jd, again) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
