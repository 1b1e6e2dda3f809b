package cache

import "testing"

func TestRootHonoursEnvironment(t *testing.T) {
	t.Setenv(EnvRoot, "/srv/cache")
	if got, _ := Root(); got != "/srv/cache" {
		t.Fatalf("Root() = %q", got)
	}
	t.Setenv(EnvRoot, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got, _ := Root(); got != "/xdg/xroad-appliance" {
		t.Fatalf("Root() = %q", got)
	}
}
