// Package realobjects gives tests and measurements real BPF objects: those Debian's libxdp1 and
// xdp-tools packages ship, pinned by hash in realobjects.lock like the kernels in kernels.lock
// (package, version, suite, the .deb's sha256, and each object's file, offset and sha256).
//
// Objects come as .o files (libxdp1's /usr/lib/x86_64-linux-gnu/bpf/) and embedded in binaries:
// a libbpf skeleton keeps its object's ELF bytes in the tool's .rodata, and Go programs embed
// theirs likewise. FindEmbedded finds them by the ELF magic and an EM_BPF header, and sizes each
// from its section header table, the only place an object's length is written.
//
// Packages are fetched through vmimages.Packages: the machine's own apt with a private state
// directory, the archive taken from the apt configuration (or the BPFMATRIX_DEBIAN_* variables),
// so the system's apt state is never touched. Objects are cached under the cache directory's
// objects/<package>_<version>/ and checked against their pins before they are handed out.
package realobjects
