package operations

import (
	"net"
	"testing"
)

// TestEstablishedCountsBothEnds opens a real connection on a free port:
// /proc/net/tcp lists the client's end (remote port) and the server's end
// (local port), as ss shows them.
func TestEstablishedCountsBothEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if n, err := established(port); err != nil || n != 0 {
		t.Fatalf("before connecting: %d, %v", n, err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := established(port); err != nil || n != 2 {
		t.Errorf("one connection: %d ends established, %v; want 2", n, err)
	}
	c.Close()
	s.Close()
}

func TestHasPort(t *testing.T) {
	for addr, want := range map[string]bool{
		"0100007F:157C":                         true,  // 127.0.0.1:5500
		"0100007F:157D":                         false, // 5501
		"00000000000000000000000001000000:157C": true,
		"garbage":                               false,
	} {
		if got := hasPort(addr, 5500); got != want {
			t.Errorf("hasPort(%q) = %v, want %v", addr, got, want)
		}
	}
}
