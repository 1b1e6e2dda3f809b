package secretscan

import (
	"bytes"
	"encoding/binary"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// jksEntry is one entry of a hand-made store: tag 1 private key, 2 trusted
// certificate, 3 secret key.
type jksEntry struct {
	tag  uint32
	body []byte
}

// javaStore lays out a JKS/JCEKS file as Java's JavaKeyStore writes it.
func javaStore(magic []byte, version uint32, entries ...jksEntry) []byte {
	var b bytes.Buffer
	b.Write(magic)
	binary.Write(&b, binary.BigEndian, version)
	binary.Write(&b, binary.BigEndian, uint32(len(entries)))
	for i, e := range entries {
		binary.Write(&b, binary.BigEndian, e.tag)
		alias := []byte("alias" + string(rune('a'+i)))
		binary.Write(&b, binary.BigEndian, uint16(len(alias)))
		b.Write(alias)
		b.Write(make([]byte, 8)) // date
		if e.tag == 2 && version == 2 {
			binary.Write(&b, binary.BigEndian, uint16(len("X.509")))
			b.WriteString("X.509")
		}
		binary.Write(&b, binary.BigEndian, uint32(len(e.body)))
		b.Write(e.body)
	}
	b.Write(make([]byte, 20)) // SHA-1 of the store
	return b.Bytes()
}

func TestJavaKeyStoreSecret(t *testing.T) {
	cert := jksEntry{2, bytes.Repeat([]byte{0x30}, 900)}
	key := jksEntry{1, bytes.Repeat([]byte{0x30}, 1200)}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"trust store", javaStore(jksMagic, 2, cert, cert, cert), ""},
		{"trust store v1", javaStore(jksMagic, 1, cert), ""},
		{"key after certificates", javaStore(jksMagic, 2, cert, cert, key), "Java key store with a private key"},
		{"JCEKS secret key", javaStore(jceksMagic, 2, cert, jksEntry{3, []byte{0xac, 0xed}}), "Java key store with a secret key"},
		{"truncated", javaStore(jksMagic, 2, cert, cert)[:1000], "Java key store that could not be read whole"},
		{"unknown version", javaStore(jksMagic, 7, cert), "Java key store that could not be read whole"},
	} {
		if got := javaKeyStoreSecret(c.data); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestScanRealJavaKeyStores scans stores written by the JDK's keytool: a key
// pair's store in JKS and JCEKS is a finding, a trust store is not.
func TestScanRealJavaKeyStores(t *testing.T) {
	if _, err := exec.LookPath("keytool"); err != nil {
		t.Skip("needs keytool")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "keys")
	keytool := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("keytool", args...).CombinedOutput(); err != nil {
			t.Fatalf("keytool %v: %v\n%s", args, err, out)
		}
	}
	write(t, root, "keys/.keep", nil)
	for _, kind := range []string{"JKS", "JCEKS"} {
		store := filepath.Join(dir, strings.ToLower(kind)+".store")
		keytool("-genkeypair", "-keyalg", "EC", "-alias", "proxy", "-dname", "CN=test", "-validity", "1",
			"-storetype", kind, "-keystore", store, "-storepass", "changeit", "-keypass", "changeit")
		keytool("-exportcert", "-alias", "proxy", "-keystore", store, "-storetype", kind, "-storepass", "changeit",
			"-file", filepath.Join(dir, strings.ToLower(kind)+".crt"))
	}
	keytool("-importcert", "-noprompt", "-alias", "ca", "-file", filepath.Join(dir, "jks.crt"),
		"-storetype", "JKS", "-keystore", filepath.Join(dir, "cacerts"), "-storepass", "changeit")
	want := []string{
		"/keys/jceks.store: Java key store with a private key",
		"/keys/jks.store: Java key store with a private key",
	}
	expectFindings(t, root, want)
}
