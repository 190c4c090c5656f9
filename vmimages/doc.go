// Package vmimages turns the kernels listed in kernels.yaml into bootable kernel images on disk.
//
// A kernel entry names a source: a Debian cloud kernel series ("debian"), resolved to the
// newest package the Debian archive serves (or to a pinned upstream version), or a local image
// ("path", e.g. a bzImage from `vng --build`), and the architectures it can be had in (amd64,
// arm64: a Fetcher fetches the builds of one). Each architecture has its own pins in
// kernels.lock and its own private apt state; images are keyed by content, so an amd64 and an
// arm64 build never share a cache entry. Fetching resolves every entry, pins the result in
// kernels.lock next to kernels.yaml, downloads Debian packages with the machine's own apt in a
// private state directory (the system's sources and package state are never touched, and apt
// checks the archive's signatures), extracts vmlinuz, the kernel config and the virtio modules
// from the .deb, and keeps them in a cache keyed by the sha256 of vmlinuz.
//
// Later runs reuse kernels.lock, so the same kernels are tested on every machine and no network is
// needed once the cache is warm; Fetcher.Update moves the pins and Fetcher.Offline forbids any
// download. Every cached file is checked against its recorded sha256 before it is handed out, so
// a truncated or half-written cache entry is detected and fetched again instead of booted.
package vmimages
