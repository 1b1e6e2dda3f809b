# xroad-appliance. `make test` runs everything (booted-node tests included, as
# root); `go test -short ./...` is the fast inner loop of pure tests.
# Go from the machine's /usr/local/go when it is not on PATH already.
export PATH := $(PATH):/usr/local/go/bin
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X xroad-appliance/cmd/internal/cli.Version=$(VERSION)
GOFLAGS   ?= -trimpath
export CGO_ENABLED := 0

.PHONY: setup build test test-short e2e bench fuzz demo demo-down lint golden clean pg-matrix

# Everything a Debian 12 machine needs for the demo and the tests, installed
# once (test/host/setup is idempotent).
setup:
	@bash test/host/setup

build:
	$(GO) build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o bin/xroad-image ./cmd/xroad-image
	$(GO) build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o bin/xroad-node ./cmd/xroad-node

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: setup lint build
	$(GO) test -count=1 -timeout 40m ./...
	$(MAKE) pg-matrix
	$(MAKE) fuzz FUZZTIME=30s
	XROAD_TEST_QEMU=1 $(GO) test -p 1 -count=1 -timeout 30m -run "TestDebianDiskBootsUnderQEMU|TestUbuntuDiskProvisionsUnderQEMU" ./builder/disk/ ./test/scenarios/

# Each fuzz target of the input parsers runs FUZZTIME (make test: 30 s).
FUZZTIME ?= 5m
FUZZ_TARGETS := FuzzParseSpec:./builder/kit FuzzParse:./builder/definition FuzzParse:./provisioner/metadata FuzzFromUserData:./provisioner/metadata
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t%%:*} ($(FUZZTIME))"; \
		GO=$(GO) bash test/fuzz/run "$${t%%:*}" "$${t#*:}" $(FUZZTIME) || exit 1; \
	done

# The provisioner's PostgreSQL code on real servers of every major each
# profile offers (test/pgmatrix; as root, 2–3 minutes on 2 cores).
pg-matrix: setup
	$(GO) run ./test/pgmatrix

test-short:
	$(GO) test -short ./...

e2e: setup build
	$(GO) test -count=1 -timeout 40m ./test/scenarios/

bench: setup build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 40m ./...

golden:
	$(GO) test ./units -update

# The demo boots the default image (ubuntu-24.04) as three nodes and leaves
# them running until demo-down.
demo: setup
	$(GO) run ./test/demo up

demo-down:
	$(GO) run ./test/demo down

clean:
	rm -rf bin out
