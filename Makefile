# The two commands of the quick start: `make demo` and `make test`.
# Everything else here is what they need.

GO        ?= go
BIN       := bin
STATE     := .runner
# Debian packages the tests use as reference tools or real parts.
APT_PKGS  ?= git bash curl python3 python3-jinja2 python3-yaml yamllint busybox-static nginx runc chromium

export CGO_ENABLED ?= 0

.PHONY: all build test bench fuzz deps demo clean

all: build $(BIN)/buildkitd

build:
	$(GO) build -o $(BIN)/runner ./cmd/runner

# deps installs the Debian packages the tests need when they are missing.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

test: deps build $(BIN)/buildkitd
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
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

bench: build $(BIN)/buildkitd
	$(GO) test ./... -run '^$$' -bench . -benchtime 1x

# demo runs the bird-flock pipeline end to end (scripts/demo.sh says how);
# REPO=PATH runs it against another bird-flock repository.
demo: deps build $(BIN)/buildkitd
	REPO=$(REPO) ./scripts/demo.sh

clean:
	rm -rf $(BIN) $(STATE)

# base-images pushes offline stand-ins for alpine:latest and nginx:stable-alpine
# (built from Debian's busybox-static and nginx) to REGISTRY; the default,
# runner's local registry, is started in the background when none answers.
REGISTRY ?= 127.0.0.1:5000
.PHONY: base-images
base-images: deps build
	$(GO) run ./tools/baseimages -registry $(REGISTRY) -runner $(BIN)/runner -dir $(STATE)/registry

# buildkitd and buildctl (for benchmarks) from the buildkit module pinned in
# go.mod by `tool` directives (`go install` refuses the module). Cold build
# about 2 min; the tests start bin/buildkitd themselves.
BUILDKIT_VERSION = $(shell $(GO) list -m -f '{{.Version}}' github.com/moby/buildkit)
$(BIN)/buildkitd $(BIN)/buildctl &: go.mod go.sum
	$(GO) build -trimpath -ldflags "-X github.com/moby/buildkit/version.Version=$(BUILDKIT_VERSION)" \
	  -o $(BIN)/ github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl
	touch $(BIN)/buildkitd $(BIN)/buildctl
