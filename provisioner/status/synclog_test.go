package status

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Samples as rsync 3.2 writes them with --log-file; the first is guide 6.1's.
const (
	guideSuccess = `2017/03/10 11:42:01 [10505] receiving file list
2017/03/10 11:42:01 [10507] .d..t...... signer/
2017/03/10 11:42:01 [10507] >f..t...... signer/keyconf.xml
2017/03/10 11:42:01 [10507] >f+++++++++ signer/sync.testfile
2017/03/10 11:42:01 [10505] sent 264 bytes  received 1,886 bytes  total size 65,346
`
	idleSuccess = `2017/03/10 11:43:02 [10600] receiving file list
2017/03/10 11:43:02 [10600] sent 105 bytes  received 36 bytes  total size 65,346
`
	sshFailure = `2017/03/10 11:44:03 [10701] rsync: connection unexpectedly closed (0 bytes received so far) [Receiver]
2017/03/10 11:44:03 [10701] rsync error: unexplained error (code 255) at io.c(285) [Receiver=3.2.7]
`
	// code 23 reports after the transfer summary, from the same process.
	partialFailure = `2017/03/10 11:45:04 [10802] receiving file list
2017/03/10 11:45:04 [10804] >f+++++++++ signer/new.xml
2017/03/10 11:45:04 [10802] rsync: [generator] failed to set times on "/etc/xroad/signer": Operation not permitted (1)
2017/03/10 11:45:04 [10802] sent 176 bytes  received 55 bytes  total size 4
2017/03/10 11:45:04 [10802] rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [generator=3.2.7]
`
	vanished = `2017/03/10 11:46:05 [10900] receiving file list
2017/03/10 11:46:05 [10900] file has vanished: "/etc/xroad/signer/x.tmp"
2017/03/10 11:46:05 [10900] sent 176 bytes  received 55 bytes  total size 4
2017/03/10 11:46:05 [10900] rsync warning: some files vanished before they could be transferred (code 24) at main.c(1865) [generator=3.2.7]
`
	timeout = `2017/03/10 11:47:06 [11000] receiving file list
2017/03/10 11:47:16 [11000] [Receiver] io timeout after 10 seconds -- exiting
2017/03/10 11:47:16 [11000] rsync error: timeout in data stream (code 30) at io.c(197) [Receiver=3.2.7]
`
)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006/01/02 15:04:05", s, time.UTC)
	if err != nil {
		panic(err)
	}
	return t
}

func TestLastSyncRun(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want *SyncRun
	}{
		{"empty", "", nil},
		{"only garbage", "not a log line\n\n2017/13/45 99:99:99 [1] nonsense time\n", nil},
		{"guide sample", guideSuccess, &SyncRun{Time: at("2017/03/10 11:42:01"), OK: true, Changes: 3,
			Message: "sent 264 bytes  received 1,886 bytes  total size 65,346"}},
		{"idle run after changes", guideSuccess + idleSuccess, &SyncRun{Time: at("2017/03/10 11:43:02"), OK: true,
			Message: "sent 105 bytes  received 36 bytes  total size 65,346"}},
		{"ssh failure after success", guideSuccess + sshFailure, &SyncRun{Time: at("2017/03/10 11:44:03"), ExitCode: 255,
			Message: "connection unexpectedly closed (0 bytes received so far) [Receiver]; unexplained error (code 255) at io.c(285) [Receiver=3.2.7]"}},
		{"success after failure", sshFailure + idleSuccess, &SyncRun{Time: at("2017/03/10 11:43:02"), OK: true,
			Message: "sent 105 bytes  received 36 bytes  total size 65,346"}},
		{"error after the summary", idleSuccess + partialFailure, &SyncRun{Time: at("2017/03/10 11:45:04"), ExitCode: 23, Changes: 1,
			Message: `[generator] failed to set times on "/etc/xroad/signer": Operation not permitted (1); some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [generator=3.2.7]`}},
		{"vanished files", vanished, &SyncRun{Time: at("2017/03/10 11:46:05"), ExitCode: 24,
			Message: "some files vanished before they could be transferred (code 24) at main.c(1865) [generator=3.2.7]"}},
		{"timeout", guideSuccess + timeout, &SyncRun{Time: at("2017/03/10 11:47:16"), ExitCode: 30,
			Message: "timeout in data stream (code 30) at io.c(197) [Receiver=3.2.7]"}},
		{"unfinished run keeps the last finished one", sshFailure + "2017/03/10 11:48:00 [11100] receiving file list\n2017/03/10 11:48:00 [11",
			&SyncRun{Time: at("2017/03/10 11:44:03"), ExitCode: 255,
				Message: "connection unexpectedly closed (0 bytes received so far) [Receiver]; unexplained error (code 255) at io.c(285) [Receiver=3.2.7]"}},
		{"cut first line and CRLF", "0 bytes  received 1 bytes  total size 1\n" + strings.ReplaceAll(idleSuccess, "\n", "\r\n"),
			&SyncRun{Time: at("2017/03/10 11:43:02"), OK: true, Message: "sent 105 bytes  received 36 bytes  total size 65,346"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LastSyncRun(strings.NewReader(tt.log), time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func syncInputs(t *testing.T, now time.Time) *Inputs {
	dir := t.TempDir()
	return &Inputs{SyncLog: filepath.Join(dir, "slave-sync.log"), SyncDisabledFlag: filepath.Join(dir, "sync-disabled"),
		Now: func() time.Time { return now }}
}

func TestProbeSyncReadsTheFlagAndAgesTheRun(t *testing.T) {
	now := time.Date(2017, 3, 10, 11, 44, 1, 0, time.Local)
	in := syncInputs(t, now)
	writeFile(t, in.SyncLog, guideSuccess)
	s, err := probeSync(in)
	if err != nil {
		t.Fatal(err)
	}
	if s.Disabled || s.LastRun == nil || !s.LastRun.OK || s.LastRun.AgeSeconds != 120 || s.LastRun.File != in.SyncLog {
		t.Fatalf("sync = %+v, run %+v", s, s.LastRun)
	}
	writeFile(t, in.SyncDisabledFlag, "")
	if s, _ := probeSync(in); !s.Disabled {
		t.Fatal("the sync-disabled flag was not seen")
	}
}

func TestProbeSyncFallsBackToTheRotatedLog(t *testing.T) {
	in := syncInputs(t, time.Now())
	// logrotate's nocreate leaves no log until the next run; compress gzips the old one.
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(guideSuccess + sshFailure))
	w.Close()
	writeFile(t, in.SyncLog+".1.gz", gz.String())
	s, err := probeSync(in)
	if err != nil {
		t.Fatal(err)
	}
	if s.LastRun == nil || s.LastRun.ExitCode != 255 || s.LastRun.File != in.SyncLog+".1.gz" {
		t.Fatalf("run = %+v", s.LastRun)
	}
	// A fresh log with only an unfinished run still defers to the rotated one.
	writeFile(t, in.SyncLog, "2017/03/11 00:00:01 [1] receiving file list\n")
	if s, _ := probeSync(in); s.LastRun == nil || s.LastRun.File != in.SyncLog+".1.gz" {
		t.Fatalf("run = %+v", s.LastRun)
	}
}

func TestProbeSyncReadsOnlyTheTailOfALargeLog(t *testing.T) {
	in := syncInputs(t, time.Now())
	var b strings.Builder
	for b.Len() < 3*maxLogTail {
		b.WriteString(guideSuccess)
	}
	b.WriteString(sshFailure)
	writeFile(t, in.SyncLog, b.String())
	s, err := probeSync(in)
	if err != nil || s.LastRun == nil || s.LastRun.ExitCode != 255 {
		t.Fatalf("run = %+v, err %v", s.LastRun, err)
	}
}

func TestProbeSyncWithoutALog(t *testing.T) {
	s, err := probeSync(syncInputs(t, time.Now()))
	if err != nil || s.LastRun != nil || s.Disabled {
		t.Fatalf("sync = %+v, err %v", s, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLastSyncRunOnRealRsyncLogs lets the installed rsync write the log with
// the sync unit's options and reads each run's outcome back.
func TestLastSyncRunOnRealRsyncLogs(t *testing.T) {
	rsync, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync not installed")
	}
	dir := t.TempDir()
	src, dst, logFile := filepath.Join(dir, "src")+"/", filepath.Join(dir, "dst")+"/", filepath.Join(dir, "slave-sync.log")
	writeFile(t, filepath.Join(src, "signer", "keyconf.xml"), "<keyconf/>")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		args    []string
		ok      bool
		code    int
		changes int // at least
	}{
		{"first copy", []string{src, dst}, true, 0, 2},
		{"nothing to do", []string{src, dst}, true, 0, 0}, // ok despite no summary-worthy change
		{"primary unreachable", []string{"-e", "false", "xroad-slave@primary:/etc/xroad/", dst}, false, 12, 0},
		{"missing source", []string{filepath.Join(dir, "absent"), dst}, false, 23, 0},
	}
	for _, s := range steps {
		args := append([]string{"-aqz", "--timeout=10", "--delete-delay", "--delay-updates", "--log-file=" + logFile}, s.args...)
		exec.Command(rsync, args...).Run()
		f, err := os.Open(logFile)
		if err != nil {
			t.Fatal(err)
		}
		run, err := LastSyncRun(f, time.Local)
		f.Close()
		if err != nil || run == nil || run.OK != s.ok || run.ExitCode != s.code || run.Changes < s.changes ||
			time.Since(run.Time) > time.Minute {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("%s: run %+v, err %v; log:\n%s", s.name, run, err, log)
		}
	}
}
