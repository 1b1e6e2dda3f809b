// Package inputfile reads the files the programs take as input (cluster specs,
// role documents, user-data, image definitions) with the same rules
// everywhere: regular files only, at most MaxSize bytes, and never blocking on
// a FIFO or a device. It is also the one strict YAML loader (ParseDocument,
// DecodeYAML): exactly one document, checked against the Go type it is
// decoded into, with errors "FILE: key PATH: line N: PROBLEM" (FileError,
// KeyError, Problem) that never quote what the file holds and wrap their
// cause.
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxSize bounds every input file: the largest user-data a node reads at
// first boot. Real inputs are a few kilobytes; the bound keeps a hostile
// file (or /dev/zero) from exhausting memory.
const MaxSize = 4 << 20

// Options changes how Read checks a file. The zero value is right for an
// operator's input file.
type Options struct {
	// Limit is the largest accepted size; 0 means MaxSize.
	Limit int64
	// NoFollow refuses a symbolic link at the path itself.
	NoFollow bool
	// Check, when set, inspects the opened regular file before it is read
	// (owner, mode); its error is returned as is.
	Check func(fs.FileInfo) error
}

// Error is a file that was refused or could not be read. Its message names the
// file (quoted) and says why; it never holds the file's content.
type Error struct {
	Name   string
	Reason string
	Err    error // the underlying error, if any
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%q: %s", e.Name, e.Reason)
	if e.Err != nil {
		msg += ": " + describe(e.Err)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// describe drops the path a *fs.PathError repeats.
func describe(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Read reads the input file at path with the default options.
func Read(path string) ([]byte, error) { return ReadWith(path, path, Options{}) }

// ReadWith reads the file at path; name is how errors call it. A missing file
// yields an error matching fs.ErrNotExist.
func ReadWith(path, name string, o Options) ([]byte, error) {
	limit := o.Limit
	if limit <= 0 {
		limit = MaxSize
	}
	flags := os.O_RDONLY | syscall.O_NONBLOCK // a FIFO must not block the open
	if o.NoFollow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		if o.NoFollow && errors.Is(err, syscall.ELOOP) {
			return nil, &Error{Name: name, Reason: "is a symbolic link; refusing to follow it"}
		}
		return nil, &Error{Name: name, Reason: "cannot read", Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &Error{Name: name, Reason: "cannot read", Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Name: name, Reason: "is not a regular file (" + kind(fi.Mode()) + ")"}
	}
	if fi.Size() > limit {
		return nil, &Error{Name: name, Reason: fmt.Sprintf("is larger than %d bytes", limit)}
	}
	if o.Check != nil {
		if err := o.Check(fi); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &Error{Name: name, Reason: "cannot read", Err: err}
	}
	if int64(len(data)) > limit { // grew while being read
		return nil, &Error{Name: name, Reason: fmt.Sprintf("is larger than %d bytes", limit)}
	}
	return data, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a plain file"
}
