/*
 * ast.h: the PromQL syntax tree that promql/parse.c builds, promql/print.c
 * prints and the query engine evaluates.
 *
 * One node struct for every kind; the fields a kind uses are listed by it.
 * Positions are byte offsets into the parsed text. Ownership: a node owns
 * its children, strings and selector; vg_promql_node_free frees the tree.
 *
 * Invariants of a tree from vg_promql_parse: it type-checks (every node's
 * type is what Prometheus infers, arguments and operands have the types
 * their operator or function takes); its depth is at most
 * VG_PROMQL_MAX_DEPTH, so recursive walks are safe; offsets and @ of a
 * range selector are kept on its inner instant selector, as Prometheus does.
 */
#ifndef VG_PROMQL_AST_H
#define VG_PROMQL_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/selector.h"

#define VG_PROMQL_MAX_DEPTH 128

enum vg_promql_type {
	VG_PROMQL_SCALAR,
	VG_PROMQL_VECTOR, /* instant vector */
	VG_PROMQL_MATRIX, /* range vector */
	VG_PROMQL_STRING,
};

enum vg_promql_kind {
	VG_PROMQL_NUMBER,    /* number */
	VG_PROMQL_STR,       /* str, str_len */
	VG_PROMQL_SELECTOR,  /* name (or NULL), sel, offset_ms, at, at_ms */
	VG_PROMQL_MATRIX_SEL,/* expr (a SELECTOR), range_ms */
	VG_PROMQL_SUBQUERY,  /* expr, range_ms, step_ms (0: default), offset_ms, at, at_ms */
	VG_PROMQL_CALL,      /* func, args, n_args */
	VG_PROMQL_AGGREGATE, /* agg, expr, param (or NULL), grouping, is_without */
	VG_PROMQL_BINARY,    /* op, lhs, rhs, is_bool, matching */
	VG_PROMQL_UNARY,     /* unary_op (ADD or SUB), expr */
	VG_PROMQL_PAREN,     /* expr */
};

/* In the order of the lexer's operator tokens. */
enum vg_promql_binop {
	VG_PROMQL_ADD, VG_PROMQL_SUB, VG_PROMQL_MUL, VG_PROMQL_DIV, VG_PROMQL_MOD,
	VG_PROMQL_POW, VG_PROMQL_ATAN2,
	VG_PROMQL_EQLC, VG_PROMQL_NEQ, VG_PROMQL_GTR, VG_PROMQL_LSS, VG_PROMQL_GTE, VG_PROMQL_LTE,
	VG_PROMQL_AND, VG_PROMQL_OR, VG_PROMQL_UNLESS,
};

enum vg_promql_agg {
	VG_PROMQL_SUM, VG_PROMQL_AVG, VG_PROMQL_COUNT, VG_PROMQL_MIN, VG_PROMQL_MAX,
	VG_PROMQL_GROUP, VG_PROMQL_STDDEV, VG_PROMQL_STDVAR, VG_PROMQL_TOPK,
	VG_PROMQL_BOTTOMK, VG_PROMQL_COUNT_VALUES, VG_PROMQL_QUANTILE, VG_PROMQL_LIMITK,
	VG_PROMQL_LIMIT_RATIO,
	VG_PROMQL_N_AGG
};

enum vg_promql_at {
	VG_PROMQL_AT_NONE,
	VG_PROMQL_AT_TIME,  /* at_ms */
	VG_PROMQL_AT_START, /* @ start() */
	VG_PROMQL_AT_END,   /* @ end() */
};

enum vg_promql_card {
	VG_PROMQL_ONE_TO_ONE,
	VG_PROMQL_MANY_TO_ONE, /* group_left */
	VG_PROMQL_ONE_TO_MANY, /* group_right */
	VG_PROMQL_MANY_TO_MANY, /* set operators */
};

struct vg_promql_labels {
	size_t n;
	char **names; /* owned */
};

struct vg_promql_matching {
	enum vg_promql_card card;
	bool is_on;                    /* on(...) rather than ignoring(...) */
	struct vg_promql_labels labels; /* of on/ignoring */
	struct vg_promql_labels include; /* of group_left/group_right */
};

struct vg_promql_func;

struct vg_promql_node {
	enum vg_promql_kind kind;
	enum vg_promql_type type;
	size_t pos, end; /* [pos, end) in the text */
	unsigned depth;  /* 1 for a leaf */

	double number;
	char *str;
	size_t str_len;

	char *name;
	struct vg_selector sel;
	int64_t offset_ms;
	enum vg_promql_at at;
	int64_t at_ms;

	int64_t range_ms, step_ms;
	struct vg_promql_node *expr;

	const struct vg_promql_func *func;
	struct vg_promql_node **args;
	size_t n_args;

	enum vg_promql_agg agg;
	struct vg_promql_node *param;
	struct vg_promql_labels grouping;
	bool is_without;

	enum vg_promql_binop op;
	struct vg_promql_node *lhs, *rhs;
	bool is_bool;
	struct vg_promql_matching matching;

	enum vg_promql_binop unary_op;
};

void vg_promql_node_free(struct vg_promql_node *n);

/* Structural equality, positions ignored; matchers compared as a set (the
 * printer sorts them). Numbers bit for bit, but any NaN equals any NaN. */
bool vg_promql_node_equal(const struct vg_promql_node *a, const struct vg_promql_node *b);

const char *vg_promql_type_name(enum vg_promql_type t); /* "instant vector" */
const char *vg_promql_binop_name(enum vg_promql_binop op); /* "+", "and" */
const char *vg_promql_agg_name(enum vg_promql_agg agg);  /* "sum" */
bool vg_promql_binop_is_comparison(enum vg_promql_binop op);
bool vg_promql_binop_is_set(enum vg_promql_binop op);

#endif
