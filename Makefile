# The two commands of the quick start: `make demo` and `make test`.
# Everything else here is what they need.

GO        ?= go
BIN       := bin
STATE     := .runner
# Debian packages the tests use as reference tools or real parts.
APT_PKGS  ?= git bash python3 chromium

export CGO_ENABLED ?= 0

.PHONY: all build test bench fuzz deps demo clean

all: build

build:
	$(GO) build -o $(BIN)/runner ./cmd/runner

# deps installs the Debian packages the tests need when they are missing.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

test: deps build
	$(GO) vet ./...
	$(GO) test ./...
	CGO_ENABLED=1 $(GO) test -race ./pkg/run/...
	$(MAKE) fuzz FUZZTIME=3s

FUZZTIME ?= 10s
fuzz:
	@for t in $$(grep -rl --include='*_test.go' '^func Fuzz' pkg | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$t/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "fuzz $$t $$f"; $(GO) test ./$$t -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; done

bench: build
	$(GO) test ./... -run '^$$' -bench . -benchtime 1x

clean:
	rm -rf $(BIN) $(STATE)
