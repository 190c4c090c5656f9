# bpfmatrix — see README.md. Targets are what CI and people run; keep them stable.
GO      ?= go
BIN     := bin/bpfmatrix
# The binary is static (no cgo) because it doubles as the /init of the QEMU guests.
export CGO_ENABLED := 0

.PHONY: all build test faults lint bench matrix deps fuzz clean objects

# KERNELS=5.10,7.3 limits `make matrix` to some kernels of kernels.yaml (a Ginkgo label filter).
KERNELS ?=
# ARCH=arm64 runs `make matrix` on the kernels' arm64 builds (BPFMATRIX_ARCH; amd64 by default).
ARCH    ?= amd64
OUT     ?= out
comma   := ,
empty   :=
space   := $(empty) $(empty)
LABEL_FILTER = $(subst $(space), || ,$(addprefix kernel:,$(subst $(comma), ,$(KERNELS))))
# The kernels `make test` boots for the suite: the oldest and the newest.
TEST_KERNELS := 5.10,7.3
# Plain output where nobody watches a terminal (CI logs).
GINKGO_FLAGS ?= $(if $(CI),-ginkgo.no-color,)

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/bpfmatrix

# The probe and harness tests load BPF programs and boot QEMU guests: run as root. The matrix
# suite runs on two real kernels here; `make matrix` runs it on all of them.
# The two kernels the tests boot are fetched first (into the cache, pinned by kernels.lock), so
# that a fresh machine's `make test` boots them rather than skipping.
test: deps faults
	$(GO) run ./cmd/bpfmatrix kernels fetch $(subst $(comma), ,$(TEST_KERNELS))
	$(GO) test -count=1 -timeout 60m -skip '^TestFault' $$($(GO) list ./... | grep -v '/suites$$')
	$(MAKE) --no-print-directory matrix KERNELS=$(TEST_KERNELS) OUT=$(OUT)/test

# faults runs the fault suite: every TestFault* test (fake QEMU binaries that exit, hang, stop
# running or cut their stream; truncated and foreign observation files; full and read-only caches;
# signals during fetch and run; broken registry and kernels files). Each asserts the exit code,
# that the message names what is at fault, and that nothing already obtained is lost.
faults: deps
	$(GO) test -count=1 -timeout 10m -run '^TestFault' $$($(GO) list ./... | grep -v '/suites$$')

# lint also checks the CI workflows (ci/README.md) with actionlint, a tool of go.mod; actionlint
# runs shellcheck on the workflows' scripts when shellcheck is installed.
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) tool actionlint $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)

# bench prints the probe's speed on this kernel, the full matrix (every kernel, images cached,
# no observation cache) with per-kernel boot and probe times, how long verify takes to judge a
# registry edit from cached observations, and how long an installed bpfmatrix (go install
# with this machine's cgo default, so usually dynamically linked: its own agent with its libraries,
# the built-in kernels file) takes to verify a helper from an empty directory once its observations
# are cached (the first verify warms them; target: under 1 s).
bench: deps build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./probe/ ./observe/ ./harness/
	@./$(BIN) verify >/dev/null 2>&1 || true
	@sed 's/  min_kernel: "5.8"/  min_kernel: "5.9"/' registry/helpers.yaml > bin/edited-helpers.yaml
	@./$(BIN) verify --registry bin/edited-helpers.yaml ringbuf_output 2>&1 >/dev/null | tail -1 | \
	  sed 's/^/verify from cache, one min_kernel edited: /'
	@env -u CGO_ENABLED GOBIN=$(abspath bin/install) $(GO) install ./cmd/bpfmatrix
	@d=$$(mktemp -d) && cd $$d && $(abspath bin/install/bpfmatrix) verify ringbuf_output >/dev/null 2>&1; rmdir $$d
	@d=$$(mktemp -d) && cd $$d && t0=$$(date +%s%N) && \
	  $(abspath bin/install/bpfmatrix) verify ringbuf_output >/dev/null 2>&1; rc=$$?; t1=$$(date +%s%N); rmdir $$d; \
	  echo "installed verify from an empty directory, warm cache: $$(( (t1 - t0) / 1000000 )) ms (exit $$rc)"

# fuzz runs every fuzz target for FUZZTIME each (a parser of what users or files hand over:
# registries and foreign tables, kernels.yaml and kernels.lock, observation documents, the guest
# result stream, verifier logs, compressed payloads and .debs). New failing inputs land in the
# package's testdata/fuzz/ and then run as plain tests.
FUZZTIME ?= 60s
FUZZ_TARGETS := \
	./registry/:FuzzParse \
	./registry/:FuzzKfuncs \
	./registry/foreign/:FuzzEDN \
	./registry/foreign/:FuzzJSONTable \
	./section/:FuzzSection \
	./observation/:FuzzParseDocument \
	./probe/:FuzzClassify \
	./harness/wire/:FuzzRead \
	./proposal/:FuzzEditKfuncs \
	./vmimages/:FuzzParseConfig \
	./vmimages/:FuzzParseLock \
	./internal/decompress/:FuzzNewReader \
	./internal/decompress/:FuzzNewReaderAt \
	./internal/debpkg/:FuzzMembers \
	./internal/debpkg/:FuzzTarFrom \
	./asm/:FuzzReleasingMarshalled \
	./registry/:FuzzStructOps \
	./vmimages/:FuzzInspectModule \
	./bpfobj/:FuzzRead \
	./objload/:FuzzParseSetting \
	./objverdict/:FuzzReport \
	./realobjects/:FuzzFindEmbedded

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg; \
	done

# The suite runs as a compiled test binary so that its progress and the report paths stream to
# the terminal (go test would hold a passing package's output back).
matrix: deps
	@mkdir -p $(OUT) bin
	$(GO) test -c -o bin/suites.test ./suites
	@cd suites && BPFMATRIX_OUT=$(abspath $(OUT)) BPFMATRIX_ARCH=$(ARCH) ../bin/suites.test -test.timeout 90m \
		-ginkgo.label-filter='$(LABEL_FILTER)' -ginkgo.junit-report=$(abspath $(OUT))/junit.xml \
		-ginkgo.silence-skips $(GINKGO_FLAGS); \
	rc=$$?; echo "reports: $(OUT)/report.json $(OUT)/report.md $(OUT)/report.html $(OUT)/junit.xml"; exit $$rc

# deps installs what the guests need when it is missing: qemu through apt when running as root,
# else it names the command to run (the QEMU of ARCH's guests). Kernel images are fetched by the
# run itself.
QEMU_BIN = $(if $(filter arm64,$(ARCH)),qemu-system-aarch64,qemu-system-x86_64)
QEMU_PKG = $(if $(filter arm64,$(ARCH)),qemu-system-arm,qemu-system-x86)
deps:
	@command -v $(QEMU_BIN) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(QEMU_PKG); \
	  else \
	    echo "$(QEMU_BIN) is missing; install it with: sudo apt-get install $(QEMU_PKG)" >&2; exit 1; \
	  fi; }

# The test objects of `bpfmatrix load` (internal/testobjects): the compiled objects are checked in
# so that tests run without clang; this rebuilds them from their C sources. The debug info names
# the sources relative to the checkout, so that every clone builds the same bytes.
TESTOBJ_DIR := internal/testobjects
TESTOBJ_SRC := $(wildcard $(TESTOBJ_DIR)/src/*.c)
CLANG       ?= clang

objects: $(patsubst $(TESTOBJ_DIR)/src/%.c,$(TESTOBJ_DIR)/%.o,$(TESTOBJ_SRC))

$(TESTOBJ_DIR)/%.o: $(TESTOBJ_DIR)/src/%.c $(TESTOBJ_DIR)/src/bpf.h
	$(CLANG) -O2 -g -target bpf -ffile-prefix-map=$(CURDIR)=. -c $< -o $@

clean:
	rm -rf bin out
