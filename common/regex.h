/*
 * regex.h: label regexes with Prometheus's syntax and semantics, through RE2.
 *
 * Owns compiling and matching one regex; knows nothing of matchers or
 * selectors (selector.h builds on it). The implementation is a thin C++
 * shim over RE2 (regex.cc): RE2's syntax is Go's regexp syntax, which is
 * what Prometheus uses, and RE2 matches in time linear in the text, so no
 * pattern can stall a reader ((a+)+$ over a long value costs what a+ does).
 *
 * Semantics, as Prometheus 3 compiles a label regex: fully anchored (the
 * whole value must match, ^(?:re)$), UTF-8, and "." matches a newline too
 * ((?s)). The anchoring is RE2's ANCHOR_BOTH on the pattern compiled alone,
 * so an unbalanced ")" in the source is a syntax error rather than a way out
 * of a pasted "^(?:...)$" wrapper.
 *
 * Invariants: a compiled regex is immutable and may be matched from any
 * number of threads at once. No C++ exception crosses this interface: every
 * entry point catches and returns VG_ENOMEM.
 */
#ifndef VG_REGEX_H
#define VG_REGEX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vg_err;
struct vg_regex;

/* Longest pattern accepted, in bytes, and RE2's memory budget per regex. */
#define VG_REGEX_MAX_SOURCE (16 * 1024)
#define VG_REGEX_MAX_MEM (8 << 20)

/*
 * Compiles src[0..len) into *out (a new regex, freed with vg_regex_free).
 * On a syntax error returns VG_EINVAL with Go's wording in err:
 * "error parsing regexp: invalid or unsupported Perl syntax: `(?R`";
 * VG_ELIMIT for a pattern too long or too large to compile; VG_ENOMEM.
 */
int vg_regex_compile(const char *src, size_t len, struct vg_regex **out, struct vg_err *err);

/*
 * Whether the whole of s[0..len) matches: 1 yes, 0 no, or a negative VG_E*
 * code when the match could not be decided (out of memory, a text longer
 * than RE2 takes). Callers must not read a failure as "no match".
 */
int vg_regex_match(const struct vg_regex *re, const char *s, size_t len);

/*
 * As vg_regex_compile, keeping capturing groups (for label_replace); a
 * regex from vg_regex_compile has none, which matches faster.
 */
int vg_regex_compile_groups(const char *src, size_t len, struct vg_regex **out, struct vg_err *err);

/*
 * As vg_regex_match; on a match (1) also the byte range of each group
 * 0..n-1 (0 is the whole text) in starts[i], lens[i], with starts[i] = -1
 * for a group that took no part or does not exist.
 */
int vg_regex_match_groups(const struct vg_regex *re, const char *s, size_t len, size_t n, long *starts,
			  size_t *lens);

/* The number of the group named name[0..len), or -1. */
int vg_regex_group_index(const struct vg_regex *re, const char *name, size_t len);

void vg_regex_free(struct vg_regex *re);

#ifdef __cplusplus
}
#endif

#endif
