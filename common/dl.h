/*
 * dl.h: libraries loaded with dlopen() where they are used, not linked:
 * libyaml while a configuration file is read (config.c), and the agent's
 * OpenSSL (agent/tls.c), libcurl (agent/collect/scrape.c) and PCRE2
 * (agent/collect/collect.c) where they are configured. A default agent
 * maps none of them once started (docs/performance.md, "Agent
 * footprint").
 *
 * Each module keeps a table of function pointers of the declared types
 * (__typeof__ of the library's own prototypes), so every call is checked
 * as if the library were linked; vg_dl_load fills such a table.
 */
#ifndef VG_DL_H
#define VG_DL_H

#include <stddef.h>

struct vg_dl_sym {
	const char *name; /* the library's symbol */
	void *dst;        /* where its address goes: a function pointer */
};

/* One entry of a table: the symbol sym into the pointer at &field. */
#define VG_DL_SYM(field, sym) { #sym, &(field) }

struct vg_err;

/* Sets each syms[i].dst from handle. Returns NULL, or the name of the
 * first symbol the library lacks (the table is then incomplete). */
const char *vg_dl_load(void *handle, const struct vg_dl_sym *syms, size_t n);

/* dlopen()s soname (RTLD_LAZY | RTLD_LOCAL) and fills syms from it.
 * Returns the handle, or NULL with err set to "<what> needs <soname>
 * (install <package>): <dlerror>" or "<what>: <soname> lacks <symbol>"
 * (the library closed again). */
void *vg_dl_open(const char *soname, const char *package, const char *what, const struct vg_dl_sym *syms,
		 size_t n, struct vg_err *err);

#endif
