/*
 * lex.h: the PromQL lexer, one token at a time on demand.
 *
 * Owns the token syntax: identifiers, keywords (case-insensitive), numbers
 * (decimal, hex, octal as Go's ParseInt reads a leading 0, exponents,
 * "_" between digits, Inf and NaN in any case), durations (1h30m: integers
 * with units ms s m h d w y, largest first, each once), strings ("..." and
 * '...' with Go escapes, `...` raw) and operators. "#" starts a comment to
 * the end of the line. Does not own the grammar (parse.c).
 *
 * Invariants: a token is a byte range of the input; the value of a STRING
 * token is in lx->str until the next call; after an ERROR token the lexer
 * says ERROR again (the parser stops at the first).
 */
#ifndef VG_PROMQL_LEX_H
#define VG_PROMQL_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum vg_tok {
	VG_TOK_EOF,
	VG_TOK_ERROR,
	VG_TOK_IDENT,    /* a name; may hold ':' (a metric name) */
	VG_TOK_NUMBER,   /* value in lx->number */
	VG_TOK_DURATION, /* value in lx->duration_ms */
	VG_TOK_STRING,   /* unescaped value in lx->str */
	VG_TOK_LPAREN, VG_TOK_RPAREN, VG_TOK_LBRACE, VG_TOK_RBRACE,
	VG_TOK_LBRACKET, VG_TOK_RBRACKET, VG_TOK_COMMA, VG_TOK_COLON, VG_TOK_AT,
	VG_TOK_ASSIGN, VG_TOK_EQL_REGEX, VG_TOK_NEQ_REGEX,
	/* binary operators, in the order of enum vg_promql_binop */
	VG_TOK_ADD, VG_TOK_SUB, VG_TOK_MUL, VG_TOK_DIV, VG_TOK_MOD, VG_TOK_POW, VG_TOK_ATAN2,
	VG_TOK_EQLC, VG_TOK_NEQ, VG_TOK_GTR, VG_TOK_LSS, VG_TOK_GTE, VG_TOK_LTE,
	VG_TOK_AND, VG_TOK_OR, VG_TOK_UNLESS,
	/* keywords */
	VG_TOK_AGGREGATOR, /* sum, avg, ...: which one in lx->agg */
	VG_TOK_OFFSET, VG_TOK_BY, VG_TOK_WITHOUT, VG_TOK_ON, VG_TOK_IGNORING,
	VG_TOK_GROUP_LEFT, VG_TOK_GROUP_RIGHT, VG_TOK_BOOL,
};

struct vg_token {
	enum vg_tok type;
	size_t pos, len; /* the bytes of the token in the input */
	bool is_word;    /* spelled like an identifier (keywords, Inf, NaN) */
};

struct vg_lexer {
	const char *s;
	size_t len, pos;
	double number;
	int64_t duration_ms;
	int agg;            /* enum vg_promql_agg of an AGGREGATOR token */
	struct vg_buf str;  /* value of the last STRING token */
	bool is_in_brackets; /* between [ and ]: ':' separates range and step */
	/* Open ( and {: at the end of the text with a ( open (outside braces)
	 * the lexer answers Prometheus's "unclosed left parenthesis", with a [
	 * open "unclosed left bracket", as an ERROR token at the end. */
	size_t paren_depth, brace_depth;
	bool has_colon; /* a ':' since the last '[' */
	size_t err_pos;     /* of an ERROR token */
	char err_msg[256];
};

void vg_lex_init(struct vg_lexer *lx, const char *s, size_t len);
void vg_lex_release(struct vg_lexer *lx);
void vg_lex_next(struct vg_lexer *lx, struct vg_token *t);

/* "identifier \"foo\"", "end of input", "\"(\"": for "unexpected X". */
void vg_lex_describe(const struct vg_lexer *lx, const struct vg_token *t, char *out, size_t cap);

/* Parses a whole duration string ("1h30m", "0"); 0, or VG_EINVAL/VG_ELIMIT
 * (the message in msg). */
int vg_lex_duration(const char *s, size_t len, int64_t *ms, char *msg, size_t cap);

/* Writes s[0..n) as a Go-quoted string ("a\"b\n") onto b. */
void vg_lex_quote(struct vg_buf *b, const char *s, size_t n);

#endif
