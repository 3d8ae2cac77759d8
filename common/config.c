/*
 * config.c: YAML configuration files bound onto an options struct through a
 * table of fields (config.h).
 *
 * Owns the YAML reading (libyaml's event API, pulled one event at a time),
 * the scalar syntaxes (booleans, integers, sizes, durations via clock.h) and
 * the error messages that name file and line. It does not know which keys a
 * program has, their defaults, or what a value means beyond its type: that is
 * the program's table and its check callbacks.
 *
 * Invariants:
 *  - Every error message starts with the name and the 1-based line of the
 *    event that caused it, and quotes input only through quote_input(), so a
 *    hostile file cannot put control characters on a terminal or in a log.
 *  - Events are pulled lazily and the walk follows the field table, not the
 *    input: nesting the table does not expect is refused at its first event,
 *    so input depth never becomes recursion depth here.
 *  - Heap members are replaced whole: a new value is built aside and swapped
 *    in, the old one freed, so a member is never half-written.
 */
#include "common/config.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/dl.h"
#include "common/err.h"
#include "common/series.h"
#include "common/frame.h"
#include "common/log.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "common/banned.h"

/*
 * libyaml is dlopen()ed for each file read and closed after it (dl.h): a
 * program reads its configuration at start and on a reload, and linked,
 * the library would stay mapped for nothing the rest of the time (some
 * 130 KiB of an agent's resident memory, docs/performance.md).
 */
#ifndef VG_YAML_SONAME
#define VG_YAML_SONAME "libyaml-0.so.2"
#endif

struct yaml_api {
	void *handle;
	__typeof__(yaml_parser_initialize) *parser_initialize;
	__typeof__(yaml_parser_set_input_string) *parser_set_input_string;
	__typeof__(yaml_parser_parse) *parser_parse;
	__typeof__(yaml_parser_delete) *parser_delete;
	__typeof__(yaml_event_delete) *event_delete;
};

static int libyaml_open(struct yaml_api *a, const char *name, struct vg_err *err)
{
	const struct vg_dl_sym syms[] = {
		VG_DL_SYM(a->parser_initialize, yaml_parser_initialize),
		VG_DL_SYM(a->parser_set_input_string, yaml_parser_set_input_string),
		VG_DL_SYM(a->parser_parse, yaml_parser_parse),
		VG_DL_SYM(a->parser_delete, yaml_parser_delete),
		VG_DL_SYM(a->event_delete, yaml_event_delete),
	};
	char what[300];

	snprintf(what, sizeof(what), "%s: reading YAML", name);
	a->handle = vg_dl_open(VG_YAML_SONAME, "libyaml-0-2", what, syms, sizeof(syms) / sizeof(syms[0]), err);
	return a->handle != NULL ? 0 : VG_ENOENT;
}

struct conf_ctx {
	struct yaml_api yaml;
	yaml_parser_t parser;
	const char *text;
	size_t len;
	const char *name;
	void *target;
	struct vg_err *err;
};

/* Writes s[0..len) into out for quoting inside "...": printable ASCII
 * and UTF-8 bytes as they are, '"' and '\\' escaped, control bytes as \xHH,
 * cut with "..." past 64 bytes of input. */
static const char *quote_input(const char *s, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;
	size_t lim = len > 64 ? 64 : len;

	for (i = 0; i < lim && o + 5 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	if (i < len && o + 4 <= cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

#define QBUF 300

static int fail_at(struct conf_ctx *c, size_t line0, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_at(struct conf_ctx *c, size_t line0, int code, const char *fmt, ...)
{
	char msg[VG_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return vg_err_set(c->err, code, "%s:%zu: %s", c->name, line0 + 1, msg);
}

/* Line and column (both 0-based) of a byte offset, for libyaml's reader
 * errors, which give an offset instead of a mark. */
static void offset_to_mark(const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
	size_t l = 0, start = 0;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++)
		if (text[i] == '\n') {
			l++;
			start = i + 1;
		}
	*line = l;
	*col = off - start;
}

static int parser_error(struct conf_ctx *c)
{
	const yaml_parser_t *p = &c->parser;
	const char *problem = p->problem ? p->problem : "invalid YAML";
	size_t line, col;

	if (p->error == YAML_MEMORY_ERROR)
		return vg_err_set(c->err, VG_ENOMEM, "%s: out of memory while parsing", c->name);
	if (p->error == YAML_READER_ERROR) {
		offset_to_mark(c->text, c->len, p->problem_offset, &line, &col);
		return vg_err_set(c->err, VG_EINVAL, "%s:%zu:%zu: %s", c->name, line + 1, col + 1,
				  problem);
	}
	line = p->problem_mark.line;
	col = p->problem_mark.column;
	if (p->context)
		return vg_err_set(c->err, VG_EINVAL, "%s:%zu:%zu: %s (%s)", c->name, line + 1,
				  col + 1, problem, p->context);
	return vg_err_set(c->err, VG_EINVAL, "%s:%zu:%zu: %s", c->name, line + 1, col + 1, problem);
}

static int next_event(struct conf_ctx *c, yaml_event_t *ev)
{
	if (!c->yaml.parser_parse(&c->parser, ev))
		return parser_error(c);
	return 0;
}

static const char *event_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT: return "a single value";
	case YAML_SEQUENCE_START_EVENT: return "a list";
	case YAML_MAPPING_START_EVENT: return "a mapping";
	case YAML_ALIAS_EVENT: return "an alias";
	default: return "something else";
	}
}

static bool scalar_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return n == 0 || (n == 1 && v[0] == '~') ||
	       (n == 4 && (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 ||
			   memcmp(v, "NULL", 4) == 0));
}

/* Refuses what this loader does not support on any node: aliases, anchors,
 * explicit tags, and NUL bytes inside a scalar (a "\0" escape). */
static int check_node(struct conf_ctx *c, const yaml_event_t *ev, const char *path)
{
	char q[QBUF];
	const yaml_char_t *anchor = NULL, *tag = NULL;
	const char *where = path ? path : "top level";
	size_t line = ev->start_mark.line;

	switch (ev->type) {
	case YAML_ALIAS_EVENT: {
		const char *a = (const char *)ev->data.alias.anchor;
		return fail_at(c, line, VG_EINVAL, "%s: aliases (*%s) are not supported; write the value out",
			       where, quote_input(a, strlen(a), q, sizeof(q)));
	}
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
			return fail_at(c, line, VG_EINVAL, "%s: value contains a NUL byte", where);
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	default:
		return 0;
	}
	if (anchor)
		return fail_at(c, line, VG_EINVAL, "%s: anchors (&%s) are not supported", where,
			       quote_input((const char *)anchor, strlen((const char *)anchor), q, sizeof(q)));
	if (tag)
		return fail_at(c, line, VG_EINVAL, "%s: tags (%s) are not supported", where,
			       quote_input((const char *)tag, strlen((const char *)tag), q, sizeof(q)));
	return 0;
}

/* --- scalars ---------------------------------------------------------- */

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Decimal digits only: no sign, no spaces, no hex. */
static int parse_uint(const char *s, uint64_t *out, bool *is_overflow)
{
	uint64_t v = 0;

	*is_overflow = false;
	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10) {
			*is_overflow = true;
			return -1;
		}
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static const struct {
	const char *unit;
	uint64_t bytes;
} size_units[] = {
	{ "B", 1 },
	{ "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 }, { "TiB", 1ULL << 40 },
	{ "KB", 1000ULL }, { "MB", 1000000ULL }, { "GB", 1000000000ULL }, { "TB", 1000000000000ULL },
};
#define N_SIZE_UNITS (sizeof(size_units) / sizeof(size_units[0]))

int vg_conf_parse_size(const char *s, uint64_t *bytes, struct vg_err *err)
{
	char q[QBUF];
	const char *p = s;
	uint64_t n = 0, mult = 1;
	size_t i;

	if (*p < '0' || *p > '9')
		goto bad;
	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p++ - '0');
		if (n > (UINT64_MAX - d) / 10)
			goto too_large;
		n = n * 10 + d;
	}
	if (*p == ' ')
		p++;
	if (*p != '\0') {
		for (i = 0; i < N_SIZE_UNITS; i++)
			if (strcmp(p, size_units[i].unit) == 0)
				break;
		if (i == N_SIZE_UNITS)
			goto bad;
		mult = size_units[i].bytes;
	} else if (p != s && p[-1] == ' ') {
		goto bad; /* a trailing space with no unit */
	}
	if (n > UINT64_MAX / mult)
		goto too_large;
	*bytes = n * mult;
	return 0;
bad:
	return vg_err_set(err, VG_EINVAL,
			  "not a valid size: \"%s\" (a number of bytes, optionally followed by "
			  "KiB, MiB, GiB, TiB or KB, MB, GB, TB, e.g. 64MiB)",
			  quote_input(s, strlen(s), q, sizeof(q)));
too_large:
	return vg_err_set(err, VG_EINVAL, "size \"%s\" is too large",
			  quote_input(s, strlen(s), q, sizeof(q)));
}

/* A bound as an operator would write it: "64KiB", "100ms", "65536". */
static void format_bound(enum vg_conf_type type, int64_t v, char *out, size_t cap)
{
	if (type == VG_CONF_DURATION) {
		vg_duration_format(v, out, cap);
		return;
	}
	if (type == VG_CONF_SIZE && v > 0) {
		for (size_t i = N_SIZE_UNITS; i-- > 1;) {
			uint64_t m = size_units[i].bytes;
			if ((uint64_t)v % m == 0) {
				snprintf(out, cap, "%llu%s", (unsigned long long)((uint64_t)v / m),
					 size_units[i].unit);
				return;
			}
		}
	}
	snprintf(out, cap, "%lld", (long long)v);
}

static int check_bounds(struct conf_ctx *c, size_t line, const struct vg_conf_field *f,
			const char *path, const char *raw, bool is_below, bool is_above)
{
	char lo[64], hi[64], q[QBUF];

	if (!is_below && !is_above)
		return 0;
	format_bound(f->type, f->min, lo, sizeof(lo));
	format_bound(f->type, f->max, hi, sizeof(hi));
	quote_input(raw, strlen(raw), q, sizeof(q));
	if (f->max == INT64_MAX)
		return fail_at(c, line, VG_EINVAL, "%s: %s is out of range (must be at least %s)",
			       path, q, lo);
	return fail_at(c, line, VG_EINVAL, "%s: %s is out of range (must be between %s and %s)",
		       path, q, lo, hi);
}

static bool has_bounds(const struct vg_conf_field *f)
{
	return !(f->min == 0 && f->max == 0);
}

/* A message from a parser in common/ may quote the raw value; use it only
 * when that value is plain printable text, else write our own. */
static bool is_printable(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
			return false;
	return n <= 64;
}

static const char *type_name(enum vg_conf_type type)
{
	switch (type) {
	case VG_CONF_STR: return "a string";
	case VG_CONF_DURATION: return "a duration (e.g. 10s, 1h30m)";
	case VG_CONF_BOOL: return "a boolean (true or false)";
	case VG_CONF_UINT: return "a non-negative integer";
	case VG_CONF_SIZE: return "a size (e.g. 512, 64KiB, 16MiB)";
	case VG_CONF_LABELS: return "a mapping of label names to values";
	case VG_CONF_STRLIST: return "a list of values";
	case VG_CONF_SECTION:
	case VG_CONF_STRUCT: return "a mapping of keys";
	case VG_CONF_LIST: return "a list of mappings";
	}
	return "a value";
}

static int store_scalar(struct conf_ctx *c, const struct vg_conf_field *f, const char *path,
			const yaml_event_t *ev)
{
	char q[QBUF];
	const char *v = (const char *)ev->data.scalar.value;
	size_t line = ev->start_mark.line;
	void *member = (char *)c->target + f->offset;
	struct vg_err sub;
	bool is_overflow;
	uint64_t u;
	int64_t ms;
	int r;

	vg_err_clear(&sub);
	switch (f->type) {
	case VG_CONF_STR:
		if (vg_conf_set_str(member, v) < 0)
			return fail_at(c, line, VG_ENOMEM, "%s: out of memory", path);
		return 0;
	case VG_CONF_BOOL:
		if (parse_bool(v, member) < 0)
			return fail_at(c, line, VG_EINVAL,
				       "%s: expects a boolean (true/false, yes/no, on/off), got \"%s\"",
				       path, quote_input(v, strlen(v), q, sizeof(q)));
		return 0;
	case VG_CONF_UINT:
		if (parse_uint(v, &u, &is_overflow) < 0)
			return fail_at(c, line, VG_EINVAL, "%s: %s: \"%s\"", path,
				       is_overflow ? "number is too large" : "expects a non-negative integer",
				       quote_input(v, strlen(v), q, sizeof(q)));
		goto unsigned_bounds;
	case VG_CONF_SIZE:
		r = vg_conf_parse_size(v, &u, &sub);
		if (r < 0)
			return fail_at(c, line, r, "%s: %s", path, sub.msg);
		goto unsigned_bounds;
	case VG_CONF_DURATION:
		r = vg_duration_parse(v, &ms, &sub);
		if (r < 0) {
			if (is_printable(v))
				return fail_at(c, line, r, "%s: %s", path, sub.msg);
			return fail_at(c, line, r, "%s: not a valid duration: \"%s\"", path,
				       quote_input(v, strlen(v), q, sizeof(q)));
		}
		if (has_bounds(f)) {
			r = check_bounds(c, line, f, path, v, ms < f->min, ms > f->max);
			if (r < 0)
				return r;
		}
		*(int64_t *)member = ms;
		return 0;
	default:
		break;
	}
	return fail_at(c, line, VG_EINVAL, "%s: expects %s, got a single value", path, type_name(f->type));

unsigned_bounds:
	if (has_bounds(f)) {
		bool is_below = f->min > 0 && u < (uint64_t)f->min;
		bool is_above = f->max < 0 || u > (uint64_t)f->max;
		r = check_bounds(c, line, f, path, v, is_below, is_above);
		if (r < 0)
			return r;
	}
	*(uint64_t *)member = u;
	return 0;
}

/* --- heap members ------------------------------------------------------ */

void vg_conf_labels_release(struct vg_conf_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->names[i]);
		free(l->values[i]);
	}
	free(l->names);
	free(l->values);
	l->n = 0;
	l->names = NULL;
	l->values = NULL;
}

/* Insertion sort: label sets are small (at most VG_SERIES_MAX_LABELS). */
void vg_conf_labels_sort(struct vg_conf_labels *l)
{
	for (size_t i = 1; i < l->n; i++)
		for (size_t j = i; j > 0 && strcmp(l->names[j - 1], l->names[j]) > 0; j--) {
			char *n = l->names[j], *v = l->values[j];
			l->names[j] = l->names[j - 1];
			l->values[j] = l->values[j - 1];
			l->names[j - 1] = n;
			l->values[j - 1] = v;
		}
}

static void strlist_release(struct vg_conf_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->n = 0;
	l->v = NULL;
}

static int labels_load(struct conf_ctx *c, const char *path, struct vg_conf_labels *out)
{
	struct vg_conf_labels l = { 0, NULL, NULL };
	yaml_event_t k, v;
	bool has_k = false, has_v = false;
	char q[QBUF];
	int r = 0;

	for (;;) {
		r = next_event(c, &k);
		if (r < 0)
			goto fail;
		has_k = true;
		if (k.type == YAML_MAPPING_END_EVENT)
			break;
		r = check_node(c, &k, path);
		if (r < 0)
			goto fail;
		size_t line = k.start_mark.line;
		if (k.type != YAML_SCALAR_EVENT) {
			r = fail_at(c, line, VG_EINVAL, "%s: label names must be single words, got %s",
				    path, event_kind(&k));
			goto fail;
		}
		const char *name = (const char *)k.data.scalar.value;
		size_t name_len = k.data.scalar.length;
		if (!vg_label_name_valid(name, name_len)) {
			r = fail_at(c, line, VG_EINVAL,
				    "%s: invalid label name \"%s\" (letters, digits and _, not starting with a digit)",
				    path, quote_input(name, name_len, q, sizeof(q)));
			goto fail;
		}
		if (name_len >= 2 && name[0] == '_' && name[1] == '_') {
			r = fail_at(c, line, VG_EINVAL, "%s: label name \"%s\" is reserved (starts with __)",
				    path, quote_input(name, name_len, q, sizeof(q)));
			goto fail;
		}
		for (size_t i = 0; i < l.n; i++)
			if (strcmp(l.names[i], name) == 0) {
				r = fail_at(c, line, VG_EINVAL, "%s: label \"%s\" given twice", path, name);
				goto fail;
			}
		if (l.n >= VG_SERIES_MAX_LABELS) {
			r = fail_at(c, line, VG_ELIMIT, "%s: more than %d labels", path, VG_SERIES_MAX_LABELS);
			goto fail;
		}
		r = next_event(c, &v);
		if (r < 0)
			goto fail;
		has_v = true;
		char sub[VG_SERIES_MAX_NAME + 64];
		snprintf(sub, sizeof(sub), "%s.%s", path, name);
		r = check_node(c, &v, sub);
		if (r < 0)
			goto fail;
		line = v.start_mark.line;
		if (v.type != YAML_SCALAR_EVENT || scalar_is_null(&v)) {
			r = fail_at(c, line, VG_EINVAL, "%s: expects a label value, got %s", sub,
				    v.type == YAML_SCALAR_EVENT ? "an empty value" : event_kind(&v));
			goto fail;
		}
		if (v.data.scalar.length > VG_SERIES_MAX_VALUE ||
		    !vg_utf8_valid((const char *)v.data.scalar.value, v.data.scalar.length)) {
			r = fail_at(c, line, VG_EINVAL, "%s: value is longer than %d bytes or not UTF-8",
				    sub, VG_SERIES_MAX_VALUE);
			goto fail;
		}
		char **names = realloc(l.names, (l.n + 1) * sizeof(*names));
		if (names)
			l.names = names;
		char **values = realloc(l.values, (l.n + 1) * sizeof(*values));
		if (values)
			l.values = values;
		char *nc = strdup(name), *vc = strdup((const char *)v.data.scalar.value);
		if (!names || !values || !nc || !vc) {
			free(nc);
			free(vc);
			r = fail_at(c, line, VG_ENOMEM, "%s: out of memory", path);
			goto fail;
		}
		l.names[l.n] = nc;
		l.values[l.n] = vc;
		l.n++;
		c->yaml.event_delete(&k);
		c->yaml.event_delete(&v);
		has_k = has_v = false;
	}
	c->yaml.event_delete(&k);
	vg_conf_labels_release(out);
	*out = l;
	return 0;
fail:
	if (has_v)
		c->yaml.event_delete(&v);
	if (has_k)
		c->yaml.event_delete(&k);
	vg_conf_labels_release(&l);
	return r;
}

static int strlist_load(struct conf_ctx *c, const char *path, struct vg_conf_strlist *out)
{
	struct vg_conf_strlist l = { 0, NULL };
	yaml_event_t ev;
	int r;

	for (;;) {
		r = next_event(c, &ev);
		if (r < 0)
			goto fail;
		if (ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		r = check_node(c, &ev, path);
		if (r == 0 && (ev.type != YAML_SCALAR_EVENT || scalar_is_null(&ev)))
			r = fail_at(c, ev.start_mark.line, VG_EINVAL,
				    "%s: list items must be single values, got %s", path,
				    ev.type == YAML_SCALAR_EVENT ? "an empty value" : event_kind(&ev));
		if (r < 0) {
			c->yaml.event_delete(&ev);
			goto fail;
		}
		char **v = realloc(l.v, (l.n + 1) * sizeof(*v));
		if (v)
			l.v = v;
		char *s = strdup((const char *)ev.data.scalar.value);
		if (!v || !s) {
			free(s);
			r = fail_at(c, ev.start_mark.line, VG_ENOMEM, "%s: out of memory", path);
			c->yaml.event_delete(&ev);
			goto fail;
		}
		l.v[l.n++] = s;
		c->yaml.event_delete(&ev);
	}
	c->yaml.event_delete(&ev);
	strlist_release(out);
	*out = l;
	return 0;
fail:
	strlist_release(&l);
	return r;
}

/* --- mappings ---------------------------------------------------------- */

static int load_mapping(struct conf_ctx *c, const struct vg_conf_field *fields, const char *path);

static int unknown_key(struct conf_ctx *c, size_t line, const struct vg_conf_field *fields,
		       const char *path, const char *key, size_t key_len)
{
	struct vg_buf known = VG_BUF_INIT;
	char q[QBUF];
	int r;

	for (size_t i = 0; fields[i].key; i++)
		vg_buf_printf(&known, "%s%s", i ? ", " : "", fields[i].key);
	quote_input(key, key_len, q, sizeof(q));
	if (path)
		r = fail_at(c, line, VG_EINVAL, "unknown key \"%s\" in %s (known: %s)", q, path,
			    vg_buf_cstr(&known));
	else
		r = fail_at(c, line, VG_EINVAL, "unknown key \"%s\" (known: %s)", q, vg_buf_cstr(&known));
	vg_buf_release(&known);
	return r;
}

/* Reads the items of list field f, whose sequence start was just
 * consumed, into out (replacing what it held). Each item is read as a
 * mapping with c->target pointing at it. */
static int list_load(struct conf_ctx *c, const struct vg_conf_field *f, const char *path,
		     struct vg_conf_list *out)
{
	struct vg_conf_list l = { 0, NULL, NULL };
	size_t max = f->max > 0 ? (size_t)f->max : 1024, item_size = (size_t)f->min;
	void *saved = c->target;
	yaml_event_t ev;
	char sub[300];
	int r;

	for (;;) {
		r = next_event(c, &ev);
		if (r < 0)
			goto fail;
		if (ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		r = check_node(c, &ev, path);
		if (r == 0 && ev.type != YAML_MAPPING_START_EVENT)
			r = fail_at(c, ev.start_mark.line, VG_EINVAL, "%s: list items must be mappings of keys, got %s",
				    path, event_kind(&ev));
		if (r == 0 && l.n >= max)
			r = fail_at(c, ev.start_mark.line, VG_ELIMIT, "%s: more than %zu items", path, max);
		if (r < 0) {
			c->yaml.event_delete(&ev);
			goto fail;
		}
		size_t item_line = ev.start_mark.line + 1;
		c->yaml.event_delete(&ev);
		void *v = realloc(l.v, (l.n + 1) * item_size);
		if (v != NULL)
			l.v = v;
		size_t *lines = realloc(l.lines, (l.n + 1) * sizeof(*lines));
		if (lines != NULL)
			l.lines = lines;
		if (v == NULL || lines == NULL) {
			r = vg_err_set(c->err, VG_ENOMEM, "%s: out of memory", c->name);
			goto fail;
		}
		l.lines[l.n] = item_line;
		memset((char *)l.v + l.n * item_size, 0, item_size);
		l.n++;
		snprintf(sub, sizeof(sub), "%s[%zu]", path, l.n - 1);
		c->target = (char *)l.v + (l.n - 1) * item_size;
		r = load_mapping(c, f->section, sub);
		c->target = saved;
		if (r < 0)
			goto fail;
	}
	c->yaml.event_delete(&ev);
	vg_conf_list_release(f, out);
	*out = l;
	return 0;
fail:
	vg_conf_list_release(f, &l);
	return r;
}

/* Reads the value of field f (the next node in the stream) into the target. */
static int load_value(struct conf_ctx *c, const struct vg_conf_field *f, const char *path)
{
	void *member = (char *)c->target + f->offset;
	yaml_event_t ev;
	size_t line;
	int r;

	r = next_event(c, &ev);
	if (r < 0)
		return r;
	line = ev.start_mark.line;
	r = check_node(c, &ev, path);
	if (r < 0)
		goto out;
	if (ev.type == YAML_SCALAR_EVENT && scalar_is_null(&ev)) {
		r = fail_at(c, line, VG_EINVAL,
			    "%s: no value (expects %s; remove the key to keep the default)", path,
			    type_name(f->type));
		goto out;
	}
	switch (f->type) {
	case VG_CONF_SECTION:
		if (ev.type != YAML_MAPPING_START_EVENT)
			break;
		r = load_mapping(c, f->section, path);
		goto checked;
	case VG_CONF_STRUCT: {
		void *saved = c->target;

		if (ev.type != YAML_MAPPING_START_EVENT)
			break;
		c->target = member;
		r = load_mapping(c, f->section, path);
		c->target = saved;
		goto checked;
	}
	case VG_CONF_LABELS:
		if (ev.type != YAML_MAPPING_START_EVENT)
			break;
		r = labels_load(c, path, member);
		goto checked;
	case VG_CONF_STRLIST:
		if (ev.type != YAML_SEQUENCE_START_EVENT)
			break;
		r = strlist_load(c, path, member);
		goto checked;
	case VG_CONF_LIST:
		if (ev.type != YAML_SEQUENCE_START_EVENT)
			break;
		r = list_load(c, f, path, member);
		goto checked;
	default:
		if (ev.type != YAML_SCALAR_EVENT)
			break;
		r = store_scalar(c, f, path, &ev);
		goto checked;
	}
	r = fail_at(c, line, VG_EINVAL, "%s: expects %s, got %s", path, type_name(f->type),
		    event_kind(&ev));
	goto out;

checked:
	if (r == 0 && f->check) {
		struct vg_err sub;
		vg_err_clear(&sub);
		sub.code = VG_EINVAL;
		r = f->check(member, &sub);
		if (r != 0)
			r = fail_at(c, line, r < 0 ? r : VG_EINVAL, "%s: %s", path, sub.msg);
	}
out:
	c->yaml.event_delete(&ev);
	return r;
}

/* Reads key/value pairs up to the end of the mapping whose start event was
 * just consumed. path is the dotted name of the mapping, NULL at the top. */
static int load_mapping(struct conf_ctx *c, const struct vg_conf_field *fields, const char *path)
{
	size_t n_fields = 0, *seen_line = NULL;
	yaml_event_t k;
	char q[QBUF];
	int r;

	while (fields[n_fields].key)
		n_fields++;
	/* seen_line[i]: 1-based line where field i was given, 0 = not yet. */
	seen_line = calloc(n_fields + 1, sizeof(*seen_line));
	if (!seen_line)
		return vg_err_set(c->err, VG_ENOMEM, "%s: out of memory", c->name);
	for (;;) {
		r = next_event(c, &k);
		if (r < 0)
			goto out;
		if (k.type == YAML_MAPPING_END_EVENT) {
			c->yaml.event_delete(&k);
			break;
		}
		size_t line = k.start_mark.line;
		r = check_node(c, &k, path);
		if (r == 0 && k.type != YAML_SCALAR_EVENT)
			r = fail_at(c, line, VG_EINVAL, "keys must be single words, got %s", event_kind(&k));
		if (r < 0) {
			c->yaml.event_delete(&k);
			goto out;
		}
		const char *key = (const char *)k.data.scalar.value;
		size_t key_len = k.data.scalar.length, i;
		for (i = 0; i < n_fields; i++)
			if (strlen(fields[i].key) == key_len && memcmp(fields[i].key, key, key_len) == 0)
				break;
		if (i == n_fields) {
			r = unknown_key(c, line, fields, path, key, key_len);
			c->yaml.event_delete(&k);
			goto out;
		}
		c->yaml.event_delete(&k);
		char sub[256];
		if (path)
			snprintf(sub, sizeof(sub), "%s.%s", path, fields[i].key);
		else
			snprintf(sub, sizeof(sub), "%s", fields[i].key);
		if (seen_line[i]) {
			r = fail_at(c, line, VG_EINVAL, "key \"%s\" given twice (first on line %zu)",
				    quote_input(sub, strlen(sub), q, sizeof(q)), seen_line[i]);
			goto out;
		}
		seen_line[i] = line + 1;
		r = load_value(c, &fields[i], sub);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free(seen_line);
	return r;
}

/* --- documents --------------------------------------------------------- */

static int load_stream(struct conf_ctx *c, const struct vg_conf_field *fields)
{
	yaml_event_t ev;
	int r;

	r = next_event(c, &ev);             /* STREAM-START */
	if (r < 0)
		return r;
	c->yaml.event_delete(&ev);
	r = next_event(c, &ev);
	if (r < 0)
		return r;
	if (ev.type == YAML_STREAM_END_EVENT) /* empty, or only comments */
		goto done;
	c->yaml.event_delete(&ev);              /* DOCUMENT-START */
	r = next_event(c, &ev);
	if (r < 0)
		return r;
	r = check_node(c, &ev, NULL);
	if (r < 0)
		goto done;
	if (ev.type == YAML_MAPPING_START_EVENT) {
		r = load_mapping(c, fields, NULL);
		if (r < 0)
			goto done;
	} else if (!(ev.type == YAML_SCALAR_EVENT && scalar_is_null(&ev))) {
		/* "---" alone is an empty document; anything else is not a mapping. */
		r = fail_at(c, ev.start_mark.line, VG_EINVAL,
			    "expected a mapping of keys (key: value lines), got %s", event_kind(&ev));
		goto done;
	}
	c->yaml.event_delete(&ev);
	r = next_event(c, &ev);              /* DOCUMENT-END */
	if (r < 0)
		return r;
	c->yaml.event_delete(&ev);
	r = next_event(c, &ev);
	if (r < 0)
		return r;
	if (ev.type != YAML_STREAM_END_EVENT)
		r = fail_at(c, ev.start_mark.line, VG_EINVAL,
			    "a second YAML document; the file must hold one");
done:
	c->yaml.event_delete(&ev);
	return r;
}

int vg_conf_load_string(const char *text, size_t len, const char *name,
			const struct vg_conf_field *fields, void *target, struct vg_err *err)
{
	struct conf_ctx c;
	int r;

	if (len > VG_CONF_MAX_BYTES)
		return vg_err_set(err, VG_ELIMIT, "%s: larger than the limit of %d bytes", name,
				  VG_CONF_MAX_BYTES);
	memset(&c, 0, sizeof(c));
	if ((r = libyaml_open(&c.yaml, name, err)) != 0)
		return r;
	if (!c.yaml.parser_initialize(&c.parser)) {
		r = vg_err_set(err, VG_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	c.text = text;
	c.len = len;
	c.name = name;
	c.target = target;
	c.err = err;
	c.yaml.parser_set_input_string(&c.parser, (const unsigned char *)text, len);
	r = load_stream(&c, fields);
	c.yaml.parser_delete(&c.parser);
out:
	dlclose(c.yaml.handle);
	return r;
}

int vg_conf_load_file(const char *path, const struct vg_conf_field *fields, void *target,
		      struct vg_err *err)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0, cap;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		return vg_err_set(err, e == ENOENT ? VG_ENOENT : VG_EIO, "%s: cannot open: %s", path,
				  strerror(e));
	}
	if (fstat(fd, &st) < 0) {
		r = vg_err_set(err, VG_EIO, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	/* A character device is allowed so that --config /dev/null means
	 * "no file, defaults only". */
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
		r = vg_err_set(err, VG_EIO, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > VG_CONF_MAX_BYTES) {
		r = vg_err_set(err, VG_ELIMIT, "%s: %lld bytes, larger than the limit of %d bytes", path,
			       (long long)st.st_size, VG_CONF_MAX_BYTES);
		goto out;
	}
	/* Sized by fstat, and grown to one byte more than the limit at most,
	 * to notice a file that grew since (or a device, which has no size).
	 * Not the limit at once: a free()d MiB raises glibc's thresholds for
	 * mmap and trimming to it, which keeps what a long-running program
	 * frees afterwards resident. */
	cap = (size_t)st.st_size + 1;
	if (cap < 4096)
		cap = 4096;
	if ((text = malloc(cap)) == NULL) {
		r = vg_err_set(err, VG_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	while (len <= VG_CONF_MAX_BYTES) {
		ssize_t n;
		if (len == cap) {
			size_t ncap = cap * 2 > VG_CONF_MAX_BYTES + 1 ? VG_CONF_MAX_BYTES + 1 : cap * 2;
			char *p = realloc(text, ncap);
			if (p == NULL) {
				r = vg_err_set(err, VG_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			text = p;
			cap = ncap;
		}
		n = read(fd, text + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = vg_err_set(err, VG_EIO, "%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > VG_CONF_MAX_BYTES) {
		r = vg_err_set(err, VG_ELIMIT, "%s: larger than the limit of %d bytes", path,
			       VG_CONF_MAX_BYTES);
		goto out;
	}
	r = vg_conf_load_string(text, len, path, fields, target, err);
out:
	free(text);
	close(fd);
	return r;
}

void vg_conf_release(const struct vg_conf_field *fields, void *target)
{
	for (size_t i = 0; fields[i].key; i++) {
		void *member = (char *)target + fields[i].offset;
		switch (fields[i].type) {
		case VG_CONF_STR:
			free(*(char **)member);
			*(char **)member = NULL;
			break;
		case VG_CONF_LABELS:
			vg_conf_labels_release(member);
			break;
		case VG_CONF_STRLIST:
			strlist_release(member);
			break;
		case VG_CONF_SECTION:
			vg_conf_release(fields[i].section, target);
			break;
		case VG_CONF_STRUCT:
			vg_conf_release(fields[i].section, member);
			break;
		case VG_CONF_LIST:
			vg_conf_list_release(&fields[i], member);
			break;
		default:
			break;
		}
	}
}

void vg_conf_list_release(const struct vg_conf_field *f, struct vg_conf_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		vg_conf_release(f->section, (char *)l->v + i * (size_t)f->min);
	free(l->v);
	free(l->lines);
	l->v = NULL;
	l->lines = NULL;
	l->n = 0;
}

int vg_conf_set_str(char **member, const char *value)
{
	char *copy = NULL;

	if (value) {
		copy = strdup(value);
		if (!copy)
			return VG_ENOMEM;
	}
	free(*member);
	*member = copy;
	return 0;
}

int vg_conf_split_hostport(const char *s, char *host, size_t host_cap, uint16_t *port,
			   struct vg_err *err)
{
	char q[QBUF];
	const char *h, *p, *colon;
	size_t h_len;
	unsigned long v = 0;

	quote_input(s, strlen(s), q, sizeof(q));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return vg_err_set(err, VG_EINVAL, "\"%s\": unbalanced brackets (write [ADDRESS]:PORT)", q);
		h = s + 1;
		h_len = (size_t)(close - h);
		if (h_len == 0)
			return vg_err_set(err, VG_EINVAL, "\"%s\": empty address in brackets", q);
		if (memchr(h, '[', h_len))
			return vg_err_set(err, VG_EINVAL, "\"%s\": unbalanced brackets (write [ADDRESS]:PORT)", q);
		if (close[1] != ':')
			return vg_err_set(err, VG_EINVAL, "\"%s\": missing port (expected [ADDRESS]:PORT, e.g. [::1]:9710)", q);
		p = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return vg_err_set(err, VG_EINVAL, "\"%s\": missing port (expected HOST:PORT, e.g. 127.0.0.1:9710)", q);
		h = s;
		h_len = (size_t)(colon - s);
		if (memchr(h, ':', h_len))
			return vg_err_set(err, VG_EINVAL,
					  "\"%s\": an IPv6 address must be in brackets, e.g. [::1]:9710", q);
		if (memchr(h, '[', h_len) || memchr(h, ']', h_len))
			return vg_err_set(err, VG_EINVAL, "\"%s\": unbalanced brackets (write [ADDRESS]:PORT)", q);
		p = colon + 1;
	}
	if (*p == '\0')
		return vg_err_set(err, VG_EINVAL, "\"%s\": missing port after ':'", q);
	for (const char *d = p; *d; d++) {
		if (*d < '0' || *d > '9')
			return vg_err_set(err, VG_EINVAL, "\"%s\": port is not a number", q);
		v = v * 10 + (unsigned long)(*d - '0');
		if (v > 65535)
			return vg_err_set(err, VG_EINVAL, "\"%s\": port is larger than 65535", q);
	}
	for (size_t i = 0; i < h_len; i++)
		if ((unsigned char)h[i] <= 0x20 || h[i] == 0x7f)
			return vg_err_set(err, VG_EINVAL, "\"%s\": host contains a space or control character", q);
	if (h_len + 1 > host_cap)
		return vg_err_set(err, VG_EINVAL, "\"%s\": host is longer than %zu bytes", q,
				  host_cap ? host_cap - 1 : 0);
	memcpy(host, h, h_len);
	host[h_len] = '\0';
	*port = (uint16_t)v;
	return 0;
}

/* --- shared option checks ------------------------------------------------- */

const char *vg_conf_printable(const char *s, const char *instead)
{
	size_t n = 0;

	for (const char *p = s; *p; p++, n++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"')
			return instead;
	return n <= 32 ? s : instead;
}

int vg_conf_check_log_level(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;
	enum vg_log_level level;

	if (vg_log_parse_level(s, &level) != 0)
		return vg_err_set(err, VG_EINVAL, "unknown log level \"%s\" (use error, warn, info or debug)",
				  vg_conf_printable(s, "..."));
	return 0;
}

int vg_conf_check_ident(const void *member, struct vg_err *err)
{
	if (strlen(*(char *const *)member) > VG_FRAME_MAX_IDENT)
		return vg_err_set(err, VG_EINVAL, "longer than %d bytes", VG_FRAME_MAX_IDENT);
	return 0;
}

int vg_conf_check_path(const void *member, struct vg_err *err)
{
	if (**(char *const *)member == '\0')
		return vg_err_set(err, VG_EINVAL, "empty path");
	return 0;
}

int vg_conf_mark_given(const void *member, struct vg_err *err)
{
	(void)err;
	((struct vg_conf_flag *)(uintptr_t)member)->is_given = true;
	return 0;
}

int vg_conf_set_str_flag(char **member, const char *flag, const char *value,
			 int (*check)(const void *, struct vg_err *), struct vg_err *err)
{
	int r = vg_conf_set_str(member, value);

	if (r < 0)
		return vg_err_set(err, r, "out of memory");
	if (check && (r = check(member, err)) < 0) {
		vg_err_prefix(err, "%s", flag);
		return r;
	}
	return 0;
}

int vg_conf_unknown_option(const char *arg, struct vg_err *err)
{
	if (strncmp(arg, "--", 2) == 0 || optopt == 0)
		return vg_err_set(err, VG_EINVAL, "unknown or ambiguous option '%s'", arg);
	return vg_err_set(err, VG_EINVAL, "unknown option '-%c'", optopt);
}

int vg_conf_getopt_other(int c, char **argv, const char *usage, const char *version, struct vg_err *err)
{
	switch (c) {
	case 'h':
		fputs(usage, stdout);
		return 1;
	case 'V':
		printf("%s\n", version);
		return 1;
	case ':':
		return vg_err_set(err, VG_EINVAL, "option '%s' requires an argument", argv[optind - 1]);
	default:
		return vg_conf_unknown_option(argv[optind - 1], err);
	}
}

int vg_conf_no_operands(int argc, char **argv, struct vg_err *err)
{
	if (optind < argc)
		return vg_err_set(err, VG_EINVAL, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int vg_conf_load_given(const char *given, const char *default_path, const struct vg_conf_field *fields,
		       void *target, char **config_path, struct vg_err *err)
{
	const char *path = given ? given : default_path;
	int r = vg_conf_load_file(path, fields, target, err);

	if (r == VG_ENOENT && given == NULL)
		return 0; /* no file at the default path: run on defaults */
	if (r < 0)
		return r;
	if (vg_conf_set_str(config_path, path) < 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	return 0;
}
