package secretscan

import (
	"bytes"
	"encoding/binary"
)

// Magic numbers of Java's own key store formats (JKS and JCEKS); Java 9
// and later write PKCS#12 by default, which isPKCS12 finds.
var (
	jksMagic   = []byte{0xfe, 0xed, 0xfe, 0xed}
	jceksMagic = []byte{0xce, 0xce, 0xce, 0xce}
)

func isJavaKeyStore(head []byte) bool {
	return bytes.HasPrefix(head, jksMagic) || bytes.HasPrefix(head, jceksMagic)
}

// javaKeyStoreSecret reads a JKS or JCEKS store's entries and says whether
// one holds a private or secret key. A trust store (certificates only, as
// the JDK's cacerts) is not a finding; a store that cannot be read whole is,
// since what it holds cannot be told.
func javaKeyStoreSecret(data []byte) string {
	r := storeReader{b: data}
	r.take(4) // magic
	version := r.u32()
	count := r.u32()
	if r.bad || version < 1 || version > 2 {
		return "Java key store that could not be read whole"
	}
	for i := uint32(0); i < count && !r.bad; i++ {
		tag := r.u32()
		r.take(int(r.u16())) // alias
		r.take(8)            // creation date
		switch tag {
		case 1:
			if !r.bad {
				return "Java key store with a private key"
			}
		case 2:
			if version == 2 {
				r.take(int(r.u16())) // certificate type
			}
			r.take(int(r.u32()))
		case 3:
			if !r.bad {
				return "Java key store with a secret key"
			}
		default:
			r.bad = true
		}
	}
	if r.bad {
		return "Java key store that could not be read whole"
	}
	return ""
}

// storeReader reads big-endian fields; a read past the end sets bad.
type storeReader struct {
	b   []byte
	bad bool
}

func (r *storeReader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *storeReader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *storeReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}
