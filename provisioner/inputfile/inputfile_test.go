package inputfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadRefuses(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(regular, []byte("a: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	evil := filepath.Join(dir, "evil\x1b[2J")
	if err := os.Mkdir(evil, 0o700); err != nil {
		t.Fatal(err)
	}

	if data, err := Read(regular); err != nil || string(data) != "a: 1\n" {
		t.Fatalf("regular file: %q, %v", data, err)
	}
	if _, err := Read(link); err != nil {
		t.Fatalf("a link to a regular file is an operator's choice: %v", err)
	}
	for _, tc := range []struct {
		name, path, want string
		o                Options
	}{
		{"directory", dir, "not a regular file (a directory)", Options{}},
		{"fifo", fifo, "not a regular file (a FIFO)", Options{}},
		{"dev zero", "/dev/zero", "not a regular file (a character device)", Options{}},
		{"too large", big, "larger than 4194304 bytes", Options{}},
		{"smaller limit", regular, "larger than 2 bytes", Options{Limit: 2}},
		{"symlink refused", link, "symbolic link", Options{NoFollow: true}},
		{"missing", filepath.Join(dir, "nope"), "no such file", Options{}},
		{"control characters in the name", evil, `evil\x1b[2J"`, Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := ReadWith(tc.path, tc.path, tc.o); done <- err }()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("blocked")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
			if !strings.Contains(err.Error(), filepath.Base(tc.path)) && tc.name != "control characters in the name" {
				t.Errorf("error does not name the file: %v", err)
			}
			if strings.ContainsRune(err.Error(), 0x1b) {
				t.Errorf("raw control character in %q", err)
			}
		})
	}
	if _, err := Read(filepath.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v does not match fs.ErrNotExist", err)
	}
	check := errors.New("checked")
	if _, err := ReadWith(regular, "x", Options{Check: func(fs.FileInfo) error { return check }}); err != check {
		t.Errorf("Check's error: got %v", err)
	}
}

type inner struct {
	Name string `yaml:"name"`
}

type shape struct {
	AdminUser struct {
		Name         string `yaml:"name"`
		PasswordHash string `yaml:"passwordHash"`
	} `yaml:"adminUser"`
	Nodes []struct {
		inner `yaml:",inline"`
		Port  int `yaml:"port"`
	} `yaml:"nodes"`
	Size  int64             `yaml:"size"`
	Flag  bool              `yaml:"flag"`
	Ratio float64           `yaml:"ratio"`
	Map   map[string]string `yaml:"map"`
	When  time.Time         `yaml:"when"`
}

func TestCheck(t *testing.T) {
	const secret = "Hunter2Secret"
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"password as a key", "adminUser:\n  name: a\n" + secret + ": x\n", []string{"line 3: unknown key at the top level"}},
		{"nested unknown key", "adminUser:\n  name: a\n  " + secret + ": x\n", []string{"line 3: unknown key under adminUser"}},
		{"case hint", "adminUser:\n  passwordhash: x\n", []string{"unknown key under adminUser (did you mean passwordHash?)"}},
		{"inline field", "nodes:\n  - name: a\n    port: x\n    " + secret + ": 1\n", []string{"nodes[0].port: line 3: must be an integer, found a string", "line 4: unknown key under nodes[0]"}},
		{"list expected", "nodes: " + secret + "\n", []string{"nodes: line 1: must be a list, found a string"}},
		{"too large for an integer", "size: 99999999999999999999999\n", []string{"size: line 1: must be an integer, found a number"}},
		{"bool", "flag: yes\n", []string{"flag: line 1: must be true or false"}},
		{"number", "ratio: x\n", []string{"ratio: line 1: must be a number"}},
		{"map value", "map: {" + secret + ": [1]}\n", []string{"map{0}: line 1: must be a string, found a list"}},
		{"duplicate", "flag: true\nflag: false\n", []string{"flag: line 2: duplicate key"}},
		{"alias", "adminUser: &a {name: x}\nmap: *a\n", []string{"adminUser: line 1: YAML anchors"}},
		{"custom tag", "size: !env X\n", []string{"size: line 1: custom YAML tags"}},
		{"null document", "~\n", []string{"line 1: must be a mapping, found nothing"}},
		{"non-string key", "? [a]\n: 1\n", []string{"line 1: keys must be plain strings"}},
		{"time", "when: " + secret + "\n", []string{"when: line 1: must be a time (RFC 3339"}},
		{"time as a list", "when: [2026-12-06T08:00:00Z]\n", []string{"when: line 1: must be a time", "found a list"}},
		{"time as an integer", "when: 20261206\n", []string{"when: line 1: must be a time", "found an integer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseYAML([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			got := Check(n, reflect.TypeOf(shape{})).Error()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("want %q in %q", w, got)
				}
			}
			if strings.Contains(got, secret) {
				t.Errorf("quotes the secret: %s", got)
			}
		})
	}
}

func TestCheckTime(t *testing.T) {
	for _, doc := range []string{"when: 2026-12-06T08:00:00Z\n", "when: '2026-12-06T08:00:00+02:00'\n", "when: ~\n"} {
		n, err := ParseYAML([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if ps := Check(n, reflect.TypeOf(shape{})); len(ps) > 0 {
			t.Errorf("%q: %v", doc, ps)
		}
	}
}

func TestParseYAML(t *testing.T) {
	for doc, want := range map[string]string{
		"":                         "empty document",
		"# only a comment\n":       "empty document",
		"a: 1\n---\nb: 2\n":        "line 2: a second YAML document",
		"a: 1\n---\n":              "second YAML document",
		"a: \"Hunter2Secret\n":     "invalid YAML",
		"a: [\nHunter2Secret: }\n": "invalid YAML",
		"a: 1\n---\nb: [Hunter2Se": "invalid YAML after the first document",
	} {
		_, err := ParseYAML([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want %q, got %v", doc, want, err)
			continue
		}
		if strings.Contains(err.Error(), "Hunter2") {
			t.Errorf("%q: quotes the input: %v", doc, err)
		}
	}
}

func TestProblemsCapped(t *testing.T) {
	var ps Problems
	for i := 0; i < MaxProblems+7; i++ {
		ps = append(ps, &Problem{Path: "a", Line: i + 1, Msg: "bad"})
	}
	msg := ps.Error()
	if n := strings.Count(msg, "bad"); n != MaxProblems {
		t.Errorf("%d problems printed, want %d", n, MaxProblems)
	}
	if !strings.HasSuffix(msg, "; and 7 more") {
		t.Errorf("no count of the rest: %s", msg)
	}
}
