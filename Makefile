# HyperSDK. `make run` brings up the sandbox; `make test` runs every test.
GO ?= go
BIN := _output/bin
# Every build but the race detector's is static, as the images hold them and
# the end-to-end tests build the commands they start. One configuration, so
# go vet, the tests and those commands share one build cache: with cgo on,
# every package that imports net compiled twice on a cold machine.
export CGO_ENABLED ?= 0

.PHONY: all build ui run test unit race e2e bench verify generate tools images krew clean

# Images: one per binary that runs in a cluster (see Dockerfile).
REGISTRY ?= ghcr.io/hypersdk
TAG ?= v0.1.0
IMAGES := hypersdk-apiserver hypersdk-controller hypersdk-scheduler-extender hypersdk-dashboard hypersdk-usb-agent hypersdk-scheduler

all: build

# Static, as the images hold them.
build: ui
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...

# The browser libraries kubectl hyper dashboard embeds: npm ci at the
# versions pkg/dashboard/web/package-lock.json pins, into pkg/dashboard/ui/vendor.
ui:
	@hack/dashboard-ui.sh

# The control plane's binaries and Prometheus, built from the Go module proxy
# on first use (about 20 minutes on 2 cores from a cold cache, then cached per
# version).
tools:
	@hack/tools-bin.sh
	@hack/prometheus-bin.sh

run: build
	@bin=$$(hack/tools-bin.sh) && $(BIN)/hypersdk-sandbox --control-plane-bin "$$bin" --dir _output/sandbox

# verify first: stale generated code or vet findings fail the run early;
# then the race detector, before the long run. The control plane's binaries
# build after go vet, which has compiled most of their packages by then.
# Prometheus, whose dependencies are all at versions of its own (nothing to
# share), builds beside all of that from the start, in the time code
# generation and the links leave a core idle.
test:
	@hack/prometheus-bin.sh >/dev/null & prometheus=$$!; \
	$(MAKE) --no-print-directory verify race && hack/tools-bin.sh >/dev/null; status=$$?; \
	wait $$prometheus || status=1; \
	exit $$status
	@hack/chromium.sh >/dev/null
	@hack/dashboard-ui.sh
	# The packages under test/ take most of the run, mostly waiting on a
	# control plane: they start first, and the unit tests build and run
	# beside them (go test ./... reached test/ only after every other package).
	# The timeout guards against a hang: test/e2e alone took 38 of its 50
	# minutes in CI before the dashboard's browser tests were added.
	# -parallel: the e2e tests that mostly wait (t.Parallel) wait together,
	# whatever the machine's core count.
	@$(GO) test -count=1 -timeout 70m -parallel 6 ./test/... & e2e=$$!; \
	$(MAKE) --no-print-directory unit; status=$$?; \
	wait $$e2e || status=1; \
	exit $$status

# -timeout: hack/krew's test cross-compiles kubectl-hyper as a release is
# built (-trimpath, CGO_ENABLED=0), which shares no build cache with the
# rest of the run: 172 to 579 s of go test's default 10 minutes in cold
# runs on 2 cores beside the e2e tests (508 s or more in four of six), and
# over it on 2026-12-05 with a placement evaluation running beside them.
unit:
	$(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -v /test/)

# The race detector on the packages whose tests run many goroutines over
# shared state (the VM view's watch fan-out, the history store, the carbon
# cache, the backup scheduler's background console looks). Only these:
# the first three's dependencies built instrumented in about 100 s on 2
# cores from a cold cache, where every package would take about 12
# minutes; pkg/backup itself added about 300 s to a cold make test, so its
# looks are a package of their own, with no dependencies to instrument.
RACE_PKGS := ./pkg/viewcache/ ./pkg/history/ ./pkg/carbon/ ./pkg/backup/looks/
race:
	@hack/cc.sh >/dev/null
	CGO_ENABLED=1 $(GO) test -race -count=1 $(RACE_PKGS)

# As make test's: go test's kill timer of a test binary also runs while it
# waits for the sandbox lock another package holds.
e2e:
	@hack/chromium.sh >/dev/null
	@hack/dashboard-ui.sh
	$(GO) test -count=1 -timeout 70m -parallel 6 -v ./test/...

# Benchmarks against real control planes; figures land in _output/bench/.
bench:
	@hack/tools-bin.sh >/dev/null
	@hack/prometheus-bin.sh >/dev/null
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 180m ./test/bench/

# kubectl-hyper's release archives and the krew manifest for them, in
# _output/krew (TAG is the version; KREW_BASE_URL where the archives go).
krew: ui
	$(GO) run ./hack/krew -version $(TAG) $(if $(KREW_BASE_URL),-base-url $(KREW_BASE_URL)) -out _output/krew

verify:
	hack/verify-codegen.sh
	$(GO) vet ./...

generate:
	hack/update-codegen.sh

# Needs a container runtime (docker or a compatible CLI); the build context
# carries pkg/dashboard/ui/vendor, which ui fills. Push them, then
# point artifacts/deploy at them: kustomize edit set image
# ghcr.io/hypersdk/hypersdk-apiserver=$(REGISTRY)/hypersdk-apiserver:$(TAG) ...
images: ui
	@for image in $(IMAGES); do \
		echo docker build --target $$image -t $(REGISTRY)/$$image:$(TAG) . ; \
		docker build --target $$image -t $(REGISTRY)/$$image:$(TAG) . || exit 1; \
	done

clean:
	rm -rf _output
