/*
 * functions.h: the table of PromQL functions the parser knows: name,
 * argument types, how many may be left out or repeated, and the type
 * returned. The parser type-checks calls against it; the engine looks up
 * its implementation by the same entry.
 */
#ifndef VG_PROMQL_FUNCTIONS_H
#define VG_PROMQL_FUNCTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "promql/ast.h"

#define VG_PROMQL_MAX_ARGS 5

struct vg_promql_func {
	const char *name;
	enum vg_promql_type args[VG_PROMQL_MAX_ARGS];
	int n_args;
	/* 0: exactly n_args; k > 0: the last argument may be given 0..k times
	 * (n_args - 1 .. n_args - 1 + k arguments); -1: any number of times. */
	int variadic;
	enum vg_promql_type ret;
};

/* Whether f is one Prometheus refuses at parse time ("function %q is not
 * enabled") unless --enable-feature=promql-experimental-functions is on:
 * Vigil has no such flag, so the parser refuses it. */
bool vg_promql_func_is_experimental(const struct vg_promql_func *f);

/* The entry named s[0..n), or NULL. */
const struct vg_promql_func *vg_promql_func_find(const char *s, size_t n);

#endif
