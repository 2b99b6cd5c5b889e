# The two commands of the quick start: `make demo` and `make test`.
# Everything else here is what they need.

GO        ?= go
BIN       := bin
STATE     := .runner
# Debian packages the demo needs (runc runs containers; busybox-static and
# nginx become the offline base images), and what the tests add as
# reference tools or real parts.
DEMO_PKGS ?= git bash curl python3 busybox-static nginx runc
APT_PKGS  ?= $(DEMO_PKGS) python3-jinja2 python3-yaml yamllint chromium skopeo gh redis-server \
             etcd-server containerd containernetworking-plugins nftables

export CGO_ENABLED ?= 0

.PHONY: all build test bench fuzz deps demo clean

all: runc build $(BIN)/buildkitd

build:
	$(GO) build -o $(BIN)/runner ./cmd/runner

# deps installs the Debian packages the tests need when they are missing;
# demo-deps and runc install less. apt-get runs through sudo when not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
endef
.PHONY: demo-deps runc
deps:
	$(call apt_install,$(APT_PKGS))
demo-deps:
	$(call apt_install,$(DEMO_PKGS))
	@command -v npm >/dev/null || { echo "installing: npm (Node.js, for the front-end build)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
runc:
	$(call apt_install,runc)

test: deps demo-deps build $(BIN)/buildkitd toolkit octokit kube
	./scripts/check-shared.sh
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	$(GO) vet ./...
	@# pkg/kube and pkg/kubetest each start a cluster and take turns on one
	@# machine-wide lock: the second's wait counts in its test timeout.
	$(GO) test -timeout 30m ./...
	CGO_ENABLED=1 $(GO) test -race ./pkg/run/...
	$(MAKE) fuzz FUZZTIME=3s

# toolkit installs GitHub's toolkit packages (@actions/core, exec, io), pinned
# by testdata/toolkit/package-lock.json, into .cache/npm-toolkit: the
# JavaScript action tests of pkg/run are actions written with them.
TOOLKIT := .cache/npm-toolkit
.PHONY: toolkit
toolkit: $(TOOLKIT)/node_modules/.package-lock.json
$(TOOLKIT)/node_modules/.package-lock.json: testdata/toolkit/package.json testdata/toolkit/package-lock.json
	@command -v npm >/dev/null || { echo "make toolkit needs npm (make demo-deps installs it)"; exit 1; }
	mkdir -p $(TOOLKIT)
	cp testdata/toolkit/package.json testdata/toolkit/package-lock.json $(TOOLKIT)/
	cd $(TOOLKIT) && npm ci --ignore-scripts --no-audit --no-fund

# octokit installs GitHub's REST client (@octokit/rest) and GitHub's OpenAPI
# description of its REST API (@octokit/openapi), pinned by
# pkg/serve/testdata/octokit/package-lock.json, into .cache/npm-octokit: the
# API tests of pkg/serve call runner serve with the client and check every
# answer against the description.
OCTOKIT := .cache/npm-octokit
.PHONY: octokit
octokit: $(OCTOKIT)/node_modules/.package-lock.json
$(OCTOKIT)/node_modules/.package-lock.json: pkg/serve/testdata/octokit/package.json pkg/serve/testdata/octokit/package-lock.json
	@command -v npm >/dev/null || { echo "make octokit needs npm (make demo-deps installs it)"; exit 1; }
	mkdir -p $(OCTOKIT)
	cp pkg/serve/testdata/octokit/package.json pkg/serve/testdata/octokit/package-lock.json $(OCTOKIT)/
	cd $(OCTOKIT) && npm ci --ignore-scripts --no-audit --no-fund

FUZZTIME ?= 10s
fuzz:
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME)

bench: build $(BIN)/buildkitd kube
	$(GO) test ./... -run '^$$' -bench . -benchtime 1x -timeout 60m

# demo runs the bird-flock pipeline end to end (scripts/demo.sh says how);
# REPO=PATH runs it against another bird-flock repository.
demo: demo-deps build $(BIN)/buildkitd
	REPO=$(REPO) ./scripts/demo.sh

clean:
	rm -rf $(BIN) $(STATE)

# conformance runs the OCI distribution-spec conformance suite against
# `bin/runner registry serve` and leaves its reports in .cache/conformance
# (`make test` runs it too: pkg/registry's TestOCIConformance).
.PHONY: conformance
conformance: build
	./scripts/conformance.sh

# base-images pushes offline stand-ins for alpine:latest and nginx:stable-alpine
# (built from Debian's busybox-static and nginx) to REGISTRY; the default,
# runner's local registry on its stable address (`bin/runner registry address`),
# is started in the background when none answers.
REGISTRY ?=
.PHONY: base-images
base-images: deps build
	$(GO) run ./tools/baseimages -registry "$(REGISTRY)" -runner $(BIN)/runner -dir $(STATE)/registry

# buildkitd and buildctl (for benchmarks) from the buildkit module pinned in
# go.mod by `tool` directives (`go install` refuses the module). Cold build
# about 2 min; the tests start bin/buildkitd themselves.
BUILDKIT_VERSION = $(shell $(GO) list -m -f '{{.Version}}' github.com/moby/buildkit)
$(BIN)/buildkitd $(BIN)/buildctl &: go.mod go.sum
	$(GO) build -trimpath -ldflags "-X github.com/moby/buildkit/version.Version=$(BUILDKIT_VERSION)" \
	  -o $(BIN)/ github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl
	touch $(BIN)/buildkitd $(BIN)/buildctl

# kube builds kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet and kube-proxy from the Kubernetes release pinned in
# tools/kube/go.mod (a module of its own, so that the main module does not
# depend on k8s.io/kubernetes), and CoreDNS from the release pinned in
# tools/kube/coredns/go.mod (with the plugins the test cluster uses), into
# .cache/kube/bin, where pkg/kubetest finds them. Cold build about 6 min on
# 2 cores, plus about 4.5 min of CPU for kube-proxy and 2.6 for CoreDNS
# (docs/kubernetes.md); rebuilt only when missing or when their tools/kube
# module changes.
KUBE_BIN  := .cache/kube/bin
KUBE_CMDS := kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy
.PHONY: kube
kube: $(addprefix $(KUBE_BIN)/,$(KUBE_CMDS)) $(KUBE_BIN)/coredns
$(addprefix $(KUBE_BIN)/,$(KUBE_CMDS)) &: tools/kube/go.mod tools/kube/go.sum tools/kube/tools.go
	mkdir -p $(KUBE_BIN)
	cd tools/kube && v=$$($(GO) list -m -f '{{.Version}}' k8s.io/kubernetes) && \
	  $(GO) build -trimpath -ldflags "-X k8s.io/component-base/version.gitVersion=$$v" \
	    -o $(CURDIR)/$(KUBE_BIN)/ $(addprefix k8s.io/kubernetes/cmd/,$(KUBE_CMDS))
	touch $(addprefix $(KUBE_BIN)/,$(KUBE_CMDS))
$(KUBE_BIN)/coredns: tools/kube/coredns/go.mod tools/kube/coredns/go.sum tools/kube/coredns/main.go
	mkdir -p $(KUBE_BIN)
	cd tools/kube/coredns && v=$$($(GO) list -m -f '{{.Version}}' github.com/coredns/coredns) && \
	  $(GO) build -trimpath -ldflags "-X github.com/coredns/coredns/coremain.GitCommit=$$v" -o $(CURDIR)/$@ .
	touch $@
