package join

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"xroad-appliance/provisioner/jointoken"
)

var t0 = time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "join"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newToken(t *testing.T) jointoken.Token {
	t.Helper()
	tok, err := jointoken.New()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func refusal(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return fmt.Sprintf("%d %s", r.Status, r.Reason)
	}
	return fmt.Sprint(err)
}

func TestStoreModes(t *testing.T) {
	s := newStore(t)
	if err := s.Add(newToken(t), t0.Add(time.Hour), 0, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCAKey(testCA(t).keyPEM); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"": 0o700 | os.ModeDir, TokensFile: 0o600, CAKeyFile: 0o600} {
		st, err := os.Stat(filepath.Join(s.Dir(), name))
		if err != nil || st.Mode() != want {
			t.Errorf("%q: %v %v, want %v", name, st.Mode(), err, want)
		}
	}
}

func TestStoreLookup(t *testing.T) {
	s := newStore(t)
	valid, expired, once := newToken(t), newToken(t), newToken(t)
	s.Add(valid, t0.Add(time.Hour), 0, t0)
	s.Add(expired, t0, 0, t0.Add(-time.Hour))
	s.Add(once, t0.Add(time.Hour), 1, t0)
	if err := s.Record(once.ID, "ss2", "n1", t0, t0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, name, want string
	}{
		{valid.ID, "ss2", "<nil>"},
		{"zzzzzz", "ss2", "403 unknown token"},
		{expired.ID, "ss2", "403 token expired"},
		{once.ID, "ss3", "403 token used up"},
		{once.ID, "", "403 token used up"},
		// The node the token admitted may ask again (a retry after a crash).
		{once.ID, "ss2", "<nil>"},
	} {
		tok, err := s.Lookup(c.id, c.name, t0)
		if got := refusal(err); got != c.want {
			t.Errorf("Lookup(%s, %q) = %s, want %s", c.id, c.name, got, c.want)
		}
		if err == nil && tok.Secret == "" {
			t.Errorf("Lookup(%s) without secret", c.id)
		}
	}
}

func TestStoreValidPendingNextExpiry(t *testing.T) {
	s := newStore(t)
	if ok, err := s.Pending(t0); ok || err != nil {
		t.Fatalf("empty store pending: %v %v", ok, err)
	}
	if _, ok, err := s.NextExpiry(t0); ok || err != nil {
		t.Fatalf("empty store has an expiry: %v", err)
	}
	a, b, c := newToken(t), newToken(t), newToken(t)
	s.Add(a, t0.Add(2*time.Hour), 0, t0)
	s.Add(b, t0.Add(time.Hour), 0, t0)
	s.Add(c, t0.Add(30*time.Minute), 1, t0)
	s.Record(c.ID, "ss2", "n1", t0, t0)
	next, ok, err := s.NextExpiry(t0)
	if !ok || err != nil || !next.Equal(t0.Add(time.Hour)) {
		t.Errorf("NextExpiry = %v %v %v, want b's (c is used up)", next, ok, err)
	}
	v, _ := s.Valid(t0.Add(90 * time.Minute))
	if len(v) != 1 || v[0].ID != a.ID {
		t.Errorf("Valid after b expired: %+v", v)
	}
	if ok, _ := s.Pending(t0.Add(2 * time.Hour)); ok {
		t.Error("pending after every token expired")
	}
	all, _ := s.Tokens()
	if len(all) != 3 || all[2].Used != 1 || all[2].Uses != 1 || !all[2].Created.Equal(t0) {
		t.Errorf("Tokens: %+v", all)
	}
}

func TestStoreAddAgain(t *testing.T) {
	s := newStore(t)
	tok := newToken(t)
	s.Add(tok, t0.Add(time.Hour), 2, t0)
	s.Record(tok.ID, "ss2", "n1", t0, t0)
	if err := s.Add(tok, t0.Add(3*time.Hour), 5, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	all, _ := s.Tokens()
	if len(all) != 1 || all[0].Uses != 5 || all[0].Used != 1 || !all[0].Expires.Equal(t0.Add(3*time.Hour)) || !all[0].Created.Equal(t0) {
		t.Errorf("after adding again: %+v", all)
	}
	other := jointoken.Token{ID: tok.ID, Secret: newToken(t).Secret}
	err := s.Add(other, t0.Add(time.Hour), 0, t0)
	if err == nil || strings.Contains(err.Error(), other.Secret) || strings.Contains(err.Error(), tok.Secret) {
		t.Errorf("another secret under a stored ID: %v", err)
	}
	if err := s.Add(tok, t0, -1, t0); err == nil {
		t.Error("negative uses accepted")
	}
	if err := s.Add(jointoken.Token{ID: "short", Secret: "x"}, t0, 0, t0); err == nil {
		t.Error("malformed token accepted")
	}
}

func TestStoreRecord(t *testing.T) {
	s := newStore(t)
	tok := newToken(t)
	s.Add(tok, t0.Add(time.Hour), 0, t0)
	s.Record(tok.ID, "ss2", "n1", t0, t0)
	s.Record(tok.ID, "ss2", "n2", t0.Add(time.Minute), t0.Add(time.Minute))
	all, _ := s.Tokens()
	if all[0].Used != 1 {
		t.Errorf("one node admitted twice counted %d uses", all[0].Used)
	}
	for _, n := range []string{"n1", "n2"} {
		if seen, err := s.Seen(n); !seen || err != nil {
			t.Errorf("nonce %s not kept: %v", n, err)
		}
	}
	// n1's request is past Freshness once n3's is recorded; n2's is not.
	s.Record(tok.ID, "ss3", "n3", t0.Add(Freshness+time.Second), t0.Add(Freshness+time.Second))
	for n, want := range map[string]bool{"n1": false, "n2": true, "n3": true} {
		if seen, _ := s.Seen(n); seen != want {
			t.Errorf("nonce %s kept: %v, want %v", n, seen, want)
		}
	}
	if err := s.Record("zzzzzz", "ss4", "n4", t0, t0); err == nil {
		t.Error("recorded a use of an unknown token")
	}
}

// TestStoreConcurrentRecords: every goroutine opens the directory itself, as
// another process would; the lock keeps each use.
func TestStoreConcurrentRecords(t *testing.T) {
	s := newStore(t)
	tok := newToken(t)
	s.Add(tok, t0.Add(time.Hour), 0, t0)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			other := &Store{dir: s.Dir()}
			if err := other.Record(tok.ID, fmt.Sprintf("ss%d", i), fmt.Sprintf("n%d", i), t0, t0); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if all, _ := s.Tokens(); all[0].Used != 20 {
		t.Errorf("20 admissions counted %d", all[0].Used)
	}
}

func TestStoreErrorsKeepSecrets(t *testing.T) {
	s := newStore(t)
	tok := newToken(t)
	s.Add(tok, t0.Add(time.Hour), 0, t0)
	path := filepath.Join(s.Dir(), TokensFile)
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte(tok.Secret), b...), 0o600)
	_, err := s.Tokens()
	if err == nil || strings.Contains(err.Error(), tok.Secret) {
		t.Errorf("broken tokens file: %v", err)
	}
	if _, err := s.CAKey(); err == nil {
		t.Error("missing CA key read")
	}
	os.WriteFile(filepath.Join(s.Dir(), CAKeyFile), []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"), 0o600)
	if _, err := s.CAKey(); err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("broken CA key: %v", err)
	}
	if err := s.SetCAKey([]byte("secret")); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("SetCAKey(garbage): %v", err)
	}
}

func TestStoreCAKeyRoundTrip(t *testing.T) {
	s := newStore(t)
	ca := testCA(t)
	if err := s.SetCAKey(ca.keyPEM); err != nil {
		t.Fatal(err)
	}
	key, err := s.CAKey()
	if err != nil || !ca.key.Equal(key) {
		t.Errorf("CA key read back: %v", err)
	}
}
