package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

func tree(ran *[]string) *Command {
	var name string
	return &Command{Name: "prog", Summary: "a program", Sub: []*Command{
		{Name: "group", Summary: "a group", Sub: []*Command{
			{Name: "leaf", Summary: "a leaf", Args: "ARG",
				Flags: func(fs *flag.FlagSet) { fs.StringVar(&name, "name", "", "a name") },
				Run: func(_ context.Context, args []string) error {
					*ran = append(*ran, name+":"+strings.Join(args, ","))
					if len(args) == 0 {
						return Usagef("ARG missing")
					}
					if args[0] == "fail" {
						return errors.New("it failed")
					}
					if args[0] == "refuse" {
						return fmt.Errorf("wrapped: %w", refused{})
					}
					return nil
				}},
		}},
	}}
}

type refused struct{}

func (refused) Error() string { return "not now" }
func (refused) Refused() bool { return true }

func TestExitCodesAndHelp(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		inStdout string
	}{
		{[]string{"--help"}, ExitOK, "Commands:"},
		{[]string{"group", "--help"}, ExitOK, "leaf"},
		{[]string{"group", "leaf", "--help"}, ExitOK, "-name"},
		{[]string{}, ExitUsage, ""},
		{[]string{"nope"}, ExitUsage, ""},
		{[]string{"group", "leaf", "--bogus"}, ExitUsage, ""},
		{[]string{"group", "leaf"}, ExitUsage, ""},
		{[]string{"group", "leaf", "fail"}, ExitFailure, ""},
		{[]string{"group", "leaf", "refuse"}, ExitRefused, ""},
		{[]string{"group", "leaf", "x", "--name", "n"}, ExitOK, ""},
	}
	for _, c := range cases {
		var ran []string
		var out, errOut bytes.Buffer
		code := Execute(context.Background(), tree(&ran), c.args, &out, &errOut)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, c.code, errOut.String())
		}
		if !strings.Contains(out.String(), c.inStdout) {
			t.Errorf("%v: stdout %q lacks %q", c.args, out.String(), c.inStdout)
		}
	}
	var ran []string
	Execute(context.Background(), tree(&ran), []string{"group", "leaf", "x", "--name", "n"}, &bytes.Buffer{}, &bytes.Buffer{})
	if len(ran) != 1 || ran[0] != "n:x" {
		t.Fatalf("flags after arguments: ran %v", ran)
	}
}

func TestErrorsArePrintable(t *testing.T) {
	root := &Command{Name: "prog", Sub: []*Command{{Name: "leaf",
		Run: func(context.Context, []string) error {
			return Usagef("bad \x1b[2Jinput\r\u202e\nnext line\tand tab")
		}}}}
	var stdout, stderr bytes.Buffer
	if code := Execute(context.Background(), root, []string{"leaf"}, &stdout, &stderr); code != ExitUsage {
		t.Fatalf("exit %d", code)
	}
	got := stderr.String()
	want := `prog leaf: bad \x1b[2Jinput\r\u202e` + "\nnext line\tand tab\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
