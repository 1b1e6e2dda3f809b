package join

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
	"xroad-appliance/provisioner/atomicfile"
	"xroad-appliance/provisioner/jointoken"
	"xroad-appliance/provisioner/pemblock"
)

// The files of a Store's directory, both 0600.
const (
	// CAKeyFile holds the cluster CA's private key (PEM), which signs the
	// certificates of joining nodes.
	CAKeyFile = "ca.key"
	// TokensFile holds the tokens (with their secrets), what each has
	// admitted, and the nonces of recent requests (JSON).
	TokensFile = "tokens.json"
)

// Freshness is how far a request's time may lie from the primary's clock;
// a nonce is kept as long as its request could still pass that check.
const Freshness = 5 * time.Minute

// Store is a primary's join state in one directory (on a node
// /var/lib/xroad-node/join, 0700 root). Every method reads the files
// afresh under a lock on the directory, so that a token added by another
// process (`xroad-node join-token`) counts at once and no update is lost.
type Store struct {
	dir string
}

// OpenStore makes dir (0700) when it is missing.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// A directory made by hand may be wider; the secrets in it are not for others.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// TokenInfo is what a Store tells about a token: everything but its secret.
type TokenInfo struct {
	ID      string
	Expires time.Time
	// Uses is how many nodes the token may admit; 0: any number until it expires.
	Uses int
	// Used counts the nodes admitted (a node admitted again counts once).
	Used    int
	Created time.Time
}

// tokenRecord is a token as the file keeps it. Names are the nodes it
// admitted: a node that asks again after a crash is no new use.
type tokenRecord struct {
	ID      string    `json:"id"`
	Secret  string    `json:"secret"`
	Expires time.Time `json:"expires"`
	Uses    int       `json:"uses"`
	Used    int       `json:"used"`
	Names   []string  `json:"names,omitempty"`
	Created time.Time `json:"created"`
}

func (t *tokenRecord) info() TokenInfo {
	return TokenInfo{ID: t.ID, Expires: t.Expires, Uses: t.Uses, Used: t.Used, Created: t.Created}
}

// problem says why the token admits no (further) node, "" when it does.
// A node it admitted before may come again while the token lasts.
func (t *tokenRecord) problem(name string, now time.Time) string {
	switch {
	case !now.Before(t.Expires):
		return "token expired"
	case t.Uses > 0 && t.Used >= t.Uses && name != AnyNode && (name == "" || !slices.Contains(t.Names, name)):
		return "token used up"
	}
	return ""
}

type state struct {
	Tokens []*tokenRecord `json:"tokens"`
	// Nonces maps each accepted request's nonce to that request's time.
	Nonces map[string]time.Time `json:"nonces,omitempty"`
}

func (st *state) token(id string) *tokenRecord {
	for _, t := range st.Tokens {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// Add stores a token that admits up to uses nodes (0: any number) until
// expires. Adding a stored token again (same ID and secret) updates its
// expiry and uses and keeps what it admitted; another secret under a stored
// ID is refused.
func (s *Store) Add(tok jointoken.Token, expires time.Time, uses int, now time.Time) error {
	if _, err := jointoken.Parse(tok.Value()); err != nil {
		return err
	}
	if uses < 0 {
		return fmt.Errorf("%v: uses must be 0 (any number) or more, not %d", tok, uses)
	}
	return s.update(func(st *state) error {
		if t := st.token(tok.ID); t != nil {
			if t.Secret != tok.Secret {
				return fmt.Errorf("%v: another token with this ID is stored", tok)
			}
			t.Expires, t.Uses = expires.UTC(), uses
			return nil
		}
		st.Tokens = append(st.Tokens, &tokenRecord{ID: tok.ID, Secret: tok.Secret, Expires: expires.UTC(), Uses: uses, Created: now.UTC()})
		return nil
	})
}

// Tokens lists every stored token, valid or not.
func (s *Store) Tokens() ([]TokenInfo, error) {
	var out []TokenInfo
	err := s.view(func(st *state) error {
		for _, t := range st.Tokens {
			out = append(out, t.info())
		}
		return nil
	})
	return out, err
}

// Valid lists the tokens that can still admit a node: not expired, not used up.
func (s *Store) Valid(now time.Time) ([]TokenInfo, error) {
	var out []TokenInfo
	err := s.view(func(st *state) error {
		for _, t := range st.Tokens {
			if t.problem("", now) == "" {
				out = append(out, t.info())
			}
		}
		return nil
	})
	return out, err
}

// Pending tells whether any token can still admit a node: the join service
// listens only while one can.
func (s *Store) Pending(now time.Time) (bool, error) {
	v, err := s.Valid(now)
	return len(v) > 0, err
}

// NextExpiry is the earliest expiry among the valid tokens, when Pending
// may turn false by itself; ok is false when no token is valid.
func (s *Store) NextExpiry(now time.Time) (next time.Time, ok bool, err error) {
	v, err := s.Valid(now)
	for _, t := range v {
		if !ok || t.Expires.Before(next) {
			next, ok = t.Expires, true
		}
	}
	return next, ok, err
}

// AnyNode is the name Lookup takes for the cluster info, which a node asks
// for again when it retries after a crash: only an unknown or expired
// token is refused there, never a used-up one, since the node it admitted
// may be the one asking. The info holds nothing the token's holder may not
// see; the join request itself is checked in full.
const AnyNode = "*"

// Lookup finds the token for a request of node name ("" for a request
// that names no node, AnyNode for the cluster info). A token that cannot
// admit it is a *Refusal (403: unknown token, token expired, token used up).
func (s *Store) Lookup(id, name string, now time.Time) (jointoken.Token, error) {
	var tok jointoken.Token
	err := s.view(func(st *state) error {
		t := st.token(id)
		if t == nil {
			return &Refusal{Status: 403, Reason: "unknown token"}
		}
		if p := t.problem(name, now); p != "" {
			return &Refusal{Status: 403, Reason: p}
		}
		tok = jointoken.Token{ID: t.ID, Secret: t.Secret}
		return nil
	})
	return tok, err
}

// Seen tells whether a request with this nonce was accepted before.
func (s *Store) Seen(nonce string) (bool, error) {
	var seen bool
	err := s.view(func(st *state) error {
		_, seen = st.Nonces[nonce]
		return nil
	})
	return seen, err
}

// Record notes, in one write, that the token admitted node name by the
// request with nonce made at time at: the nonce is kept, and the use counted
// unless the token admitted this name before. Nonces whose requests are past
// Freshness are dropped.
func (s *Store) Record(id, name, nonce string, at, now time.Time) error {
	return s.update(func(st *state) error {
		t := st.token(id)
		if t == nil {
			return fmt.Errorf("token %s is no longer stored", id)
		}
		if !slices.Contains(t.Names, name) {
			t.Names = append(t.Names, name)
			t.Used++
		}
		if st.Nonces == nil {
			st.Nonces = map[string]time.Time{}
		}
		st.Nonces[nonce] = at.UTC()
		for n, when := range st.Nonces {
			if now.Sub(when) > Freshness {
				delete(st.Nonces, n)
			}
		}
		return nil
	})
}

// SetCAKey stores the cluster CA's private key (PEM).
func (s *Store) SetCAKey(keyPEM []byte) error {
	if _, err := parseCAKey(keyPEM); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(s.dir, CAKeyFile), keyPEM, 0o600)
}

// CAKey reads the cluster CA's private key.
func (s *Store) CAKey() (crypto.Signer, error) {
	path := filepath.Join(s.dir, CAKeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := parseCAKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// parseCAKey's errors are constant text: a library error about a private
// key is never passed on.
func parseCAKey(b []byte) (crypto.Signer, error) {
	k, err := pemblock.Key(b)
	if err != nil {
		return nil, errors.New("not a PEM private key")
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("not a signing key")
	}
	return signer, nil
}

func (s *Store) view(f func(*state) error) error {
	return s.locked(syscall.LOCK_SH, func() error {
		st, err := s.load()
		if err != nil {
			return err
		}
		return f(st)
	})
}

func (s *Store) update(f func(*state) error) error {
	return s.locked(syscall.LOCK_EX, func() error {
		st, err := s.load()
		if err != nil {
			return err
		}
		if err := f(st); err != nil {
			return err
		}
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.Write(filepath.Join(s.dir, TokensFile), append(b, '\n'), 0o600)
	})
}

// locked runs f under a lock on the directory: the tokens file itself is
// replaced by every write, so a lock on it would not hold.
func (s *Store) locked(how int, f func() error) error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := syscall.Flock(int(d.Fd()), how); err != nil {
		return fmt.Errorf("lock %s: %w", s.dir, err)
	}
	defer syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
	return f()
}

func (s *Store) load() (*state, error) {
	path := filepath.Join(s.dir, TokensFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &state{}, nil
	}
	if err != nil {
		return nil, err
	}
	var st state
	// The decoder's message may quote the file, whose values are secrets.
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: not a valid tokens file", path)
	}
	return &st, nil
}
