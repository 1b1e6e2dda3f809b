// Package cli is the small subcommand framework both programs share: a tree
// of commands, each with its own flags, `--help` on every level, and exit
// codes that tell a script what happened.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and failed
	ExitUsage   = 2 // bad command line or bad input document
	ExitRefused = 3 // the command does not apply in the current state; nothing was changed
)

// refusal is implemented by errors that mean ExitRefused.
type refusal interface{ Refused() bool }

// UsageError marks an error as the caller's: wrong flags, bad input file.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// Command is one node of the command tree. A group (with Sub) may also have
// Run: its default action when no subcommand is given.
type Command struct {
	Name    string
	Summary string
	// Args describes positional arguments in the usage line.
	Args string
	// Flags declares the command's flags; Run reads them through closures.
	Flags func(fs *flag.FlagSet)
	Run   func(ctx context.Context, args []string) error
	Sub   []*Command
}

// Main runs the tree with os.Args and returns the process exit code.
func Main(root *Command) int {
	return Execute(context.Background(), root, os.Args[1:], os.Stdout, os.Stderr)
}

// Execute runs the command the arguments name.
func Execute(ctx context.Context, root *Command, args []string, stdout, stderr io.Writer) int {
	cmd, path, rest := root, []string{root.Name}, args
	for len(cmd.Sub) > 0 {
		if len(rest) == 0 && cmd.Run != nil {
			break // a group with a default action, e.g. "profiles" lists
		}
		if len(rest) == 0 || rest[0] == "-h" || rest[0] == "--help" || rest[0] == "help" {
			w := stderr
			code := ExitUsage
			if len(rest) > 0 {
				w, code = stdout, ExitOK
			}
			printGroupHelp(w, cmd, path)
			return code
		}
		next := find(cmd, rest[0])
		if next == nil {
			fmt.Fprintf(stderr, "%s: unknown command %q\n\n", strings.Join(path, " "), rest[0])
			printGroupHelp(stderr, cmd, path)
			return ExitUsage
		}
		cmd, path, rest = next, append(path, next.Name), rest[1:]
	}
	fs := flag.NewFlagSet(strings.Join(path, " "), flag.ContinueOnError)
	fs.SetOutput(stderr)
	if cmd.Flags != nil {
		cmd.Flags(fs)
	}
	fs.Usage = func() { printLeafHelp(fs.Output(), cmd, fs, path) }
	if err := fs.Parse(interleave(fs, rest)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return ExitOK
		}
		return ExitUsage
	}
	if err := cmd.Run(ctx, fs.Args()); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", strings.Join(path, " "), Printable(err.Error()))
		var ue UsageError
		var r refusal
		switch {
		case errors.As(err, &ue):
			return ExitUsage
		case errors.As(err, &r) && r.Refused():
			return ExitRefused
		}
		return ExitFailure
	}
	return ExitOK
}

// Printable escapes control characters other than newline and tab, so that
// an error quoting hostile input cannot drive the terminal.
func Printable(s string) string {
	if !strings.ContainsFunc(s, needsEscape) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if needsEscape(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func needsEscape(r rune) bool {
	return r != '\n' && r != '\t' && (unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r))
}

// interleave lets flags follow positional arguments ("validate FILE --json"),
// which the flag package alone stops parsing at.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && i+1 < len(args) {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, append([]string{"--"}, positional...)...)
}

func find(cmd *Command, name string) *Command {
	for _, c := range cmd.Sub {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func printGroupHelp(w io.Writer, cmd *Command, path []string) {
	if cmd.Summary != "" {
		fmt.Fprintf(w, "%s\n\n", cmd.Summary)
	}
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\nCommands:\n", strings.Join(path, " "))
	for _, c := range cmd.Sub {
		fmt.Fprintf(w, "  %-12s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", strings.Join(path, " "))
}

func printLeafHelp(w io.Writer, cmd *Command, fs *flag.FlagSet, path []string) {
	fmt.Fprintf(w, "%s\n\nUsage: %s [flags] %s\n", cmd.Summary, strings.Join(path, " "), cmd.Args)
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintf(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}
