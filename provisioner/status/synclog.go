package status

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxLogTail bounds how much of the sync log is read: the last run is at
// the end, and a log that logrotate never rotated may be large.
const maxLogTail = 1 << 20

// probeSync reads the sync-disabled flag and the last run from the sync log
// that xroad-sync.service's rsync writes (--log-file), falling back to the
// rotated log while a fresh one has no finished run yet. A run skipped for
// the flag logs nothing, and ssh's own messages go to the journal: both show
// here only as an ageing last run.
func probeSync(c *Inputs) (Sync, error) {
	var s Sync
	var errs []error
	switch _, err := os.Stat(c.SyncDisabledFlag); {
	case err == nil:
		s.Disabled = true
	case !errors.Is(err, fs.ErrNotExist):
		errs = append(errs, fmt.Errorf("sync-disabled flag: %w", err))
	}
	for _, name := range []string{c.SyncLog, c.SyncLog + ".1", c.SyncLog + ".1.gz"} {
		run, err := lastRunIn(name)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if run != nil {
			run.File, run.Time = name, run.Time.UTC()
			run.AgeSeconds = math.Round(c.Now().Sub(run.Time).Seconds())
			s.LastRun = run
			break
		}
	}
	return s, errors.Join(errs...)
}

// lastRunIn reads the tail of one log file; a missing file has no run.
func lastRunIn(name string) (*SyncRun, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sync log: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("sync log %s: %w", name, err)
		}
		r = gz
	} else if st, err := f.Stat(); err == nil && st.Size() > maxLogTail {
		if _, err := f.Seek(st.Size()-maxLogTail, io.SeekStart); err != nil {
			return nil, fmt.Errorf("sync log %s: %w", name, err)
		}
	}
	run, err := LastSyncRun(r, time.Local)
	if err != nil {
		return nil, fmt.Errorf("sync log %s: %w", name, err)
	}
	return run, nil
}

// logLine is one line of rsync's --log-file: "2017/03/10 11:42:01 [10505] message".
type logLine struct {
	time time.Time
	pid  int
	msg  string
}

var (
	linePattern = regexp.MustCompile(`^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[(\d+)\] (.*)$`)
	// The exit of a failed run: "rsync error: ... (code 23) at main.c(1394) [...]",
	// or "rsync warning: ... (code 24) ..." for vanished files.
	exitPattern = regexp.MustCompile(`^rsync (?:error|warning): .*\(code (\d+)\)`)
	// The summary every run that got as far as a transfer ends with.
	summaryPattern = regexp.MustCompile(`^sent [\d,.]+ bytes +received [\d,.]+ bytes`)
	// An itemized change: ">f+++++++++ signer/keyconf.xml", ".d..t...... signer/", "*deleting   x".
	changePattern = regexp.MustCompile(`^(?:[<>ch.][fdLDS][.+?a-z ]{9}|\*deleting {2}) \S`)
)

func parseLogLine(s string, loc *time.Location) (logLine, bool) {
	m := linePattern.FindStringSubmatch(strings.TrimRight(s, "\r"))
	if m == nil {
		return logLine{}, false
	}
	t, err := time.ParseInLocation("2006/01/02 15:04:05", m[1], loc)
	if err != nil {
		return logLine{}, false
	}
	pid, _ := strconv.Atoi(m[2])
	return logLine{time: t, pid: pid, msg: m[3]}, true
}

// LastSyncRun returns the last finished run in an rsync log written with
// --log-file, or nil when none finished. rsync stamps lines with local time
// (loc). A run ends with its transfer summary ("sent ... received ...") when
// it succeeds, or with "rsync error: ... (code N)" when it fails; an error
// line from the same process right after the summary belongs to that run
// (code 23 and 24 report after the summary). Lines that are not log lines
// (a truncated write, a line cut by reading only the tail) are skipped.
func LastSyncRun(r io.Reader, loc *time.Location) (*SyncRun, error) {
	var last *SyncRun
	lastPID := -1   // process that logged last's summary, while an error may follow
	lastCause := "" // the last "rsync: ..." line of last's run
	changes, cause := 0, ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l, ok := parseLogLine(sc.Text(), loc)
		if !ok {
			continue
		}
		if m := exitPattern.FindStringSubmatch(l.msg); m != nil {
			if last == nil || l.pid != lastPID {
				last, lastCause = &SyncRun{Changes: changes}, ""
			}
			if cause != "" {
				lastCause = cause
			}
			code, _ := strconv.Atoi(m[1])
			msg := strings.TrimPrefix(strings.TrimPrefix(l.msg, "rsync error: "), "rsync warning: ")
			if lastCause != "" {
				msg = lastCause + "; " + msg
			}
			last.Time, last.OK, last.ExitCode, last.Message = l.time, false, code, msg
			lastPID, changes, cause = -1, 0, ""
			continue
		}
		if summaryPattern.MatchString(l.msg) {
			last = &SyncRun{Time: l.time, OK: true, Changes: changes, Message: l.msg}
			lastPID, lastCause, changes, cause = l.pid, cause, 0, ""
			continue
		}
		if l.pid != lastPID {
			lastPID = -1 // another process: a new run has begun
		}
		if changePattern.MatchString(l.msg) {
			changes++
		}
		if m, ok := strings.CutPrefix(l.msg, "rsync: "); ok {
			cause = m
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return last, nil
}
