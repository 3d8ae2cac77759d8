/*
 * matchers.c: the text of one Alertmanager matcher (matchers.h).
 * Invariant: a matcher that parses prints back (name op "value") to a
 * text that parses to the same matcher.
 */
#include "common/matchers.h"

#include "common/buf.h"
#include "common/err.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define MAX_TEXT 4096

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_char(char c, bool is_first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!is_first && c >= '0' && c <= '9');
}

const char *vg_match_op_text(enum vg_match_op op)
{
	switch (op) {
	case VG_MATCH_EQ: return "=";
	case VG_MATCH_NE: return "!=";
	case VG_MATCH_RE: return "=~";
	case VG_MATCH_NRE: return "!~";
	}
	return "=";
}

/* A double-quoted string from p (at the quote) into b; *end after the
 * closing quote. */
static int unquote(const char *p, struct vg_buf *b, const char **end, struct vg_err *err)
{
	for (p++; *p && *p != '"'; p++) {
		if (*p != '\\') {
			vg_buf_putc(b, *p);
			continue;
		}
		p++;
		switch (*p) {
		case '"': vg_buf_putc(b, '"'); break;
		case '\\': vg_buf_putc(b, '\\'); break;
		case 'n': vg_buf_putc(b, '\n'); break;
		case 't': vg_buf_putc(b, '\t'); break;
		default:
			return vg_err_set(err, VG_EINVAL, "unknown escape in a quoted string");
		}
	}
	if (*p != '"')
		return vg_err_set(err, VG_EINVAL, "a quoted string does not end");
	*end = p + 1;
	return 0;
}

int vg_matcher_text_parse(const char *s, struct vg_matcher_text *out, struct vg_err *err)
{
	struct vg_buf name = VG_BUF_INIT, value = VG_BUF_INIT;
	const char *p = s, *e;
	int r;

	memset(out, 0, sizeof(*out));
	if (strlen(s) > MAX_TEXT)
		return vg_err_set(err, VG_ELIMIT, "a matcher longer than %d bytes", MAX_TEXT);
	while (is_space(*p))
		p++;
	if (*p == '"') {
		if ((r = unquote(p, &name, &p, err)) != 0)
			goto fail;
	} else {
		for (e = p; is_name_char(*e, e == p); e++)
			;
		vg_buf_append(&name, p, (size_t)(e - p));
		p = e;
	}
	if (name.len == 0) {
		r = vg_err_set(err, VG_EINVAL, "a matcher must start with a label name (name=\"value\")");
		goto fail;
	}
	while (is_space(*p))
		p++;
	if (p[0] == '=' && p[1] == '~')
		out->op = VG_MATCH_RE, p += 2;
	else if (p[0] == '!' && p[1] == '~')
		out->op = VG_MATCH_NRE, p += 2;
	else if (p[0] == '!' && p[1] == '=')
		out->op = VG_MATCH_NE, p += 2;
	else if (p[0] == '=')
		out->op = VG_MATCH_EQ, p += 1;
	else {
		r = vg_err_set(err, VG_EINVAL, "a matcher needs one of = != =~ !~ after the label name");
		goto fail;
	}
	while (is_space(*p))
		p++;
	if (*p == '"') {
		if ((r = unquote(p, &value, &p, err)) != 0)
			goto fail;
		while (is_space(*p))
			p++;
		if (*p != '\0') {
			r = vg_err_set(err, VG_EINVAL, "text after the quoted value");
			goto fail;
		}
	} else {
		e = p + strlen(p);
		while (e > p && is_space(e[-1]))
			e--;
		for (const char *q = p; q < e; q++)
			if (*q == '"' || *q == '\\') {
				r = vg_err_set(err, VG_EINVAL, "quote a value that holds \" or \\");
				goto fail;
			}
		vg_buf_append(&value, p, (size_t)(e - p));
	}
	vg_buf_putc(&value, '\0');
	vg_buf_putc(&name, '\0');
	if (vg_buf_failed(&name) || vg_buf_failed(&value)) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	out->name = vg_buf_detach(&name, NULL);
	out->value = vg_buf_detach(&value, NULL);
	return 0;
fail:
	vg_buf_release(&name);
	vg_buf_release(&value);
	return r;
}

void vg_matcher_text_release(struct vg_matcher_text *m)
{
	free(m->name);
	free(m->value);
	m->name = m->value = NULL;
}
