// Package kernelsrc reads the kfunc registrations of a Linux source tree: which kfunc sets the
// kernel defines (BTF_KFUNCS_START ... BTF_ID_FLAGS ... BTF_KFUNCS_END), which struct
// btf_kfunc_id_set wraps each set (and whether it adds a filter callback), which program types
// register_btf_kfunc_id_set gives each of those, and how kernel/bpf/btf.c maps program types
// to the hooks the registrations land in. From these it answers which program types may call a
// kfunc by registration: an independent check of what the probe matrix finds by loading
// programs.
//
// The reader is not a C compiler. It strips comments, follows #if/#ifdef/#else/#endif to
// record the condition each registration sits under (the build options are not evaluated here;
// Guard.Eval does it against a kernel's config), and recognizes the macros and the initializer
// by their tokens, so that a call spread over several lines reads the same as one on a line.
// Anything in those forms it cannot read is an error rather than a silent gap. What it cannot
// know from the text: whether a file is built into vmlinux, built as a module or not built at
// all (that is the Makefiles' and the config's business), so a set's kfuncs are attributed to
// vmlinux only by the caller, who knows which kfuncs its kernel's vmlinux BTF holds.
//
// The extract (Source.WriteExtract, ReadExtract) is the same information as a line-oriented
// text file, so that a kernel version's registrations can be checked in and compared without
// the tree.
package kernelsrc
