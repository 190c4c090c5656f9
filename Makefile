# bpfmatrix — see README.md. Targets are what CI and people run; keep them stable.
GO      ?= go
BIN     := bin/bpfmatrix
# The binary is static (no cgo) because it doubles as the /init of the QEMU guests.
export CGO_ENABLED := 0

.PHONY: all build test lint bench matrix fuzz clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/bpfmatrix

# The probe and harness tests load BPF programs and boot QEMU guests: run as root.
test:
	$(GO) test -count=1 -timeout 60m ./...

# lint also checks the CI workflows (ci/README.md) with actionlint, a tool of go.mod; actionlint
# runs shellcheck on the workflows' scripts when shellcheck is installed.
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) tool actionlint $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./... 

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./registry/

matrix: build
	@echo "make matrix: boots every kernel in kernels.yaml and checks the registry against them."
	@echo "The Ginkgo matrix (issue: matrix, verdicts, reports) is not built yet." >&2
	@exit 1

clean:
	rm -rf bin out
