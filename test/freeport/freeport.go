// Package freeport finds loopback ports for tests' throwaway servers.
package freeport

import (
	"net"
	"testing"
)

// Loopback returns a loopback TCP port that was free a moment ago: nothing
// listens on it until the test starts its server there.
func Loopback(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
