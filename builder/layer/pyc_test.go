package layer

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A .pyc compiled from a source newer than the epoch stays valid in the
// layer: Python, importing the extracted module, finds it fresh and leaves
// it as it is. A stale one stays stale.
func TestWriteTarKeepsByteCodeFresh(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if testing.Short() {
		t.Skip("runs python3")
	}
	src := t.TempDir()
	pkg := filepath.Join(src, "lib")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	newer := epoch.Add(300 * 24 * time.Hour)
	for name, mtime := range map[string]time.Time{"fresh": newer, "stale": newer} {
		p := filepath.Join(pkg, name+".py")
		if err := os.WriteFile(p, []byte("VALUE = 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(python, "-m", "py_compile", p).CombinedOutput(); err != nil {
			t.Fatalf("py_compile: %v\n%s", err, out)
		}
	}
	// stale.py changes after its byte code was written.
	later := newer.Add(time.Hour)
	if err := os.Chtimes(filepath.Join(pkg, "stale.py"), later, later); err != nil {
		t.Fatal(err)
	}
	pycs, _ := filepath.Glob(filepath.Join(pkg, "__pycache__", "*.pyc"))
	if len(pycs) != 2 {
		t.Fatalf("byte code files: %v", pycs)
	}

	dst := t.TempDir()
	if err := Extract(context.Background(), bytes.NewReader(writeTar(t, src, Options{Epoch: epoch})), dst); err != nil {
		t.Fatal(err)
	}
	recorded := func(name string) uint32 {
		m, _ := filepath.Glob(filepath.Join(dst, "lib", "__pycache__", name+".*.pyc"))
		if len(m) != 1 {
			t.Fatalf("%s: byte code files %v", name, m)
		}
		b, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint32(b[8:12])
	}
	if got := recorded("fresh"); got != uint32(epoch.Unix()) {
		t.Errorf("fresh.pyc records %d, want the clamped source time %d", got, epoch.Unix())
	}
	if got := recorded("stale"); got != uint32(newer.Unix()) {
		t.Errorf("stale.pyc records %d, want its original %d (it stays stale)", got, newer.Unix())
	}
	// Python itself: importing writes a .pyc again only when it was stale.
	before := map[string][]byte{}
	for _, name := range []string{"fresh", "stale"} {
		m, _ := filepath.Glob(filepath.Join(dst, "lib", "__pycache__", name+".*.pyc"))
		before[name], _ = os.ReadFile(m[0])
	}
	cmd := exec.Command(python, "-c", "import fresh, stale")
	cmd.Dir, cmd.Env = filepath.Join(dst, "lib"), append(os.Environ(), "PYTHONPATH="+filepath.Join(dst, "lib"), "PYTHONDONTWRITEBYTECODE=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	for name, rewritten := range map[string]bool{"fresh": false, "stale": true} {
		m, _ := filepath.Glob(filepath.Join(dst, "lib", "__pycache__", name+".*.pyc"))
		after, _ := os.ReadFile(m[0])
		if got := !bytes.Equal(before[name], after); got != rewritten {
			t.Errorf("%s.pyc rewritten by Python: %v, want %v", name, got, rewritten)
		}
	}
}
