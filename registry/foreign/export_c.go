package foreign

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// exportC writes a C header a C library can include: an enum of helper ids, an enum of program
// types, and a static const table with each helper's first release, GPL restriction, program
// types (a bit mask) and per-type first releases, last releases and gaps, with a lookup by id
// and a function that answers "offered to this type on this kernel" as Helper.OfferedTo does.
func exportC(w io.Writer, reg *registry.Registry, prov *Provenance) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "/* %s\n *\n", strings.ReplaceAll(provenance(reg), "*/", `*\/`))
	b.WriteString(cPreamble)
	b.WriteString("\n/* Helper ids: the kernel's enum bpf_func_id values. */\nenum bpfmatrix_func_id {\n")
	for _, h := range reg.Helpers() {
		fmt.Fprintf(b, "\tBPFMATRIX_FUNC_%s = %d,\n", h.Name, h.ID)
	}
	b.WriteString("};\n\n/* Program types: the kernel's enum bpf_prog_type values. */\nenum bpfmatrix_prog_type {\n")
	var all []string
	for i, t := range registry.KnownProgTypes[1:] {
		fmt.Fprintf(b, "\tBPFMATRIX_PROG_%s = %d,\n", t, i+1)
		all = append(all, "BPFMATRIX_PROG_BIT(BPFMATRIX_PROG_"+t+")")
	}
	b.WriteString("};\n\n")
	b.WriteString(cTypes)
	fmt.Fprintf(b, "\n/* Every program type the table knows: the mask of helpers offered to all of them. */\n#define BPFMATRIX_PROG_ALL (%s)\n", strings.Join(all, " | \\\n\t"))
	for _, h := range reg.Helpers() {
		cPerType(b, h)
	}
	b.WriteString("\n/* The helpers, in id order. */\nstatic const struct bpfmatrix_helper bpfmatrix_helpers[] = {\n")
	for _, h := range reg.Helpers() {
		cEntry(b, h, prov)
	}
	b.WriteString("};\n\n#define BPFMATRIX_HELPER_COUNT (sizeof bpfmatrix_helpers / sizeof bpfmatrix_helpers[0])\n")
	b.WriteString(cFunctions)
	b.WriteString("\n#endif /* BPFMATRIX_HELPERS_H */\n")
	return b.Flush()
}

const cPreamble = ` * BPF helper functions: ids, the first kernel release that has each, the program types that may
 * call it (and from which release, until which release series, with which gaps), and whether
 * only GPL-compatible programs may call it. Generated: edit the table and export it again.
 */
#ifndef BPFMATRIX_HELPERS_H
#define BPFMATRIX_HELPERS_H

#include <stddef.h>
#include <stdint.h>
`

const cTypes = `/* The bit of a program type in bpfmatrix_helper.prog_types. */
#define BPFMATRIX_PROG_BIT(t) (UINT64_C(1) << (t))

/* A kernel release. A last release series (until) without a patch level has patch UINT32_MAX:
 * it covers every patch release of the series. */
struct bpfmatrix_version {
	uint32_t major, minor, patch;
};

/* A program type's first release (since) or last release series (until) for one helper. */
struct bpfmatrix_prog_release {
	enum bpfmatrix_prog_type prog_type;
	struct bpfmatrix_version version;
};

/* Release series, both ends included, in which kernels withdrew a helper from a program type
 * that they offered it to before and after. */
struct bpfmatrix_prog_gap {
	enum bpfmatrix_prog_type prog_type;
	struct bpfmatrix_version from, to;
};

struct bpfmatrix_helper {
	uint32_t id;                         /* enum bpfmatrix_func_id */
	const char *name;                    /* the C name without the bpf_ prefix */
	const char *category;
	struct bpfmatrix_version min_kernel; /* the first release that has the helper at all */
	int gpl_only;                        /* 1: GPL-compatible programs only; 0: any; -1: the table
	                                      * it was exported from does not say */
	int all_prog_types;                  /* 1: every program type may call it */
	uint64_t prog_types;                 /* BPFMATRIX_PROG_BIT of each type that may call it */
	const struct bpfmatrix_prog_release *since; /* types that got it later than min_kernel */
	size_t n_since;
	const struct bpfmatrix_prog_release *until; /* types a later kernel withdrew it from */
	size_t n_until;
	const struct bpfmatrix_prog_gap *gaps;
	size_t n_gaps;
};
`

const cFunctions = `
/* bpfmatrix_helper_by_id returns the helper with kernel id id, or NULL. */
static inline const struct bpfmatrix_helper *bpfmatrix_helper_by_id(uint32_t id)
{
	size_t i;

	for (i = 0; i < BPFMATRIX_HELPER_COUNT; i++)
		if (bpfmatrix_helpers[i].id == id)
			return &bpfmatrix_helpers[i];
	return NULL;
}

/* bpfmatrix_version_cmp returns -1, 0 or 1 as a is older than, equal to or newer than b. */
static inline int bpfmatrix_version_cmp(struct bpfmatrix_version a, struct bpfmatrix_version b)
{
	if (a.major != b.major)
		return a.major < b.major ? -1 : 1;
	if (a.minor != b.minor)
		return a.minor < b.minor ? -1 : 1;
	if (a.patch != b.patch)
		return a.patch < b.patch ? -1 : 1;
	return 0;
}

/* bpfmatrix_offered tells whether the table declares h callable from programs of type t on
 * kernel k: t is listed, k is not older than min_kernel nor the type's first release, does not
 * lie in one of its gaps and is not newer than its last release series. It reads the entry
 * literally: an ext program may call what the program it replaces may. */
static inline int bpfmatrix_offered(const struct bpfmatrix_helper *h, enum bpfmatrix_prog_type t,
				    struct bpfmatrix_version k)
{
	struct bpfmatrix_version series = { k.major, k.minor, 0 };
	size_t i;

	if ((unsigned)t > 63 || !(h->prog_types & BPFMATRIX_PROG_BIT((unsigned)t)))
		return 0;
	if (bpfmatrix_version_cmp(k, h->min_kernel) < 0)
		return 0;
	for (i = 0; i < h->n_since; i++)
		if (h->since[i].prog_type == t && bpfmatrix_version_cmp(k, h->since[i].version) < 0)
			return 0;
	for (i = 0; i < h->n_gaps; i++) {
		struct bpfmatrix_version from = { h->gaps[i].from.major, h->gaps[i].from.minor, 0 };
		struct bpfmatrix_version to = { h->gaps[i].to.major, h->gaps[i].to.minor, 0 };

		if (h->gaps[i].prog_type == t && bpfmatrix_version_cmp(series, from) >= 0 &&
		    bpfmatrix_version_cmp(series, to) <= 0)
			return 0;
	}
	for (i = 0; i < h->n_until; i++)
		if (h->until[i].prog_type == t && bpfmatrix_version_cmp(k, h->until[i].version) > 0)
			return 0;
	return 1;
}
`

// cVersion renders a version as a struct bpfmatrix_version initializer; series marks a last
// release series, which covers every patch release when no patch level is given.
func cVersion(v registry.Version, series bool) string {
	patch := strconv.Itoa(v.Patch)
	if series && !v.HasPatch {
		patch = "UINT32_MAX"
	}
	return fmt.Sprintf("{ %d, %d, %s }", v.Major, v.Minor, patch)
}

// cPerType writes the arrays of a helper's per-type first releases, last releases and gaps.
func cPerType(b *bufio.Writer, h *registry.Helper) {
	for _, vm := range []struct {
		what string
		m    map[string]registry.Version
	}{{"since", h.ProgTypeSince}, {"until", h.ProgTypeUntil}} {
		if len(vm.m) == 0 {
			continue
		}
		fmt.Fprintf(b, "\nstatic const struct bpfmatrix_prog_release bpfmatrix_%s_%s[] = {\n", vm.what, h.Name)
		for _, t := range sortedKeys(vm.m) {
			fmt.Fprintf(b, "\t{ BPFMATRIX_PROG_%s, %s },\n", t, cVersion(vm.m[t], vm.what == "until"))
		}
		b.WriteString("};\n")
	}
	if len(h.ProgTypeGaps) == 0 {
		return
	}
	fmt.Fprintf(b, "\nstatic const struct bpfmatrix_prog_gap bpfmatrix_gaps_%s[] = {\n", h.Name)
	for _, t := range sortedKeys(h.ProgTypeGaps) {
		for _, g := range h.ProgTypeGaps[t] {
			fmt.Fprintf(b, "\t{ BPFMATRIX_PROG_%s, %s, %s },\n", t, cVersion(g.From, false), cVersion(g.To, false))
		}
	}
	b.WriteString("};\n")
}

// cEntry writes one helper's initializer.
func cEntry(b *bufio.Writer, h *registry.Helper, prov *Provenance) {
	gpl := 0
	switch {
	case !prov.Claimed(h, "gpl_only"):
		gpl = -1
	case h.GPLOnly:
		gpl = 1
	}
	mask, all := "BPFMATRIX_PROG_ALL", 1
	if !h.ProgTypes.All {
		bits := make([]string, len(h.ProgTypes.Types))
		for i, t := range h.ProgTypes.Types {
			bits[i] = "BPFMATRIX_PROG_BIT(BPFMATRIX_PROG_" + t + ")"
		}
		mask, all = strings.Join(bits, " |\n\t\t\t"), 0
	}
	fmt.Fprintf(b, "\t{ .id = BPFMATRIX_FUNC_%s, .name = %s, .category = %s,\n", h.Name, cQuote(h.Name), cQuote(h.Category))
	fmt.Fprintf(b, "\t  .min_kernel = %s, .gpl_only = %d, .all_prog_types = %d,\n", cVersion(h.MinKernel, false), gpl, all)
	fmt.Fprintf(b, "\t  .prog_types = %s", mask)
	for _, arr := range []struct {
		field string
		n     int
	}{{"since", len(h.ProgTypeSince)}, {"until", len(h.ProgTypeUntil)}, {"gaps", len(h.ProgTypeGaps)}} {
		if arr.n > 0 {
			fmt.Fprintf(b, ",\n\t  .%s = bpfmatrix_%s_%s, .n_%s = sizeof bpfmatrix_%s_%s / sizeof bpfmatrix_%s_%s[0]",
				arr.field, arr.field, h.Name, arr.field, arr.field, h.Name, arr.field, h.Name)
		}
	}
	b.WriteString(" },\n")
}

// cQuote writes s as a C string literal, escaping what is not printable ASCII.
func cQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f || c == '?': // '?' keeps trigraphs out
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
