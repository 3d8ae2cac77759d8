/*
 * meminfo.c: the meminfo collector, from <proc>/meminfo.
 *
 * Owns the mapping of "Field:   value [kB]" lines to node_exporter's names:
 *   "MemTotal:  123 kB"      -> node_memory_MemTotal_bytes 125952 (kB * 1024)
 *   "Active(anon):  5 kB"    -> node_memory_Active_anon_bytes
 *   "HugePages_Total:  0"    -> node_memory_HugePages_Total (no unit, no _bytes)
 * Parentheses are renamed as node_exporter does: from the first "(" to the
 * last ")" the pair becomes "_" followed by what was between them.
 *
 * Does not derive anything (no "used" memory): the fields go out as read.
 * Invariants: the content is not trusted; a line is skipped when its value is
 * not a 64-bit decimal, its unit is not "kB", or its field does not make a
 * valid metric name. No allocation: the name is built in a stack buffer.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <string.h>

#include "common/banned.h"

#define PREFIX "node_memory_"
#define SUFFIX "_bytes"

/* Builds the metric name of field key with or without _bytes into out;
 * false if it would not be a valid metric name. */
static bool meminfo_name(struct vg_str key, bool is_bytes, char *out, size_t size)
{
	const char *open = memchr(key.p, '(', key.len), *close = NULL;
	size_t n = sizeof(PREFIX) - 1;

	if (key.len + sizeof(PREFIX) + sizeof(SUFFIX) > size)
		return false;
	memcpy(out, PREFIX, n);
	if (open != NULL) {
		for (const char *c = key.p + key.len; c > open + 1; c--)
			if (c[-1] == ')') {
				close = c - 1;
				break;
			}
	}
	if (close != NULL) {
		size_t before = (size_t)(open - key.p), inside = (size_t)(close - open - 1);
		size_t after = key.len - before - inside - 2;
		memcpy(out + n, key.p, before);
		n += before;
		out[n++] = '_';
		memcpy(out + n, open + 1, inside);
		n += inside;
		memcpy(out + n, close + 1, after);
		n += after;
	} else {
		memcpy(out + n, key.p, key.len);
		n += key.len;
	}
	if (is_bytes) {
		memcpy(out + n, SUFFIX, sizeof(SUFFIX) - 1);
		n += sizeof(SUFFIX) - 1;
	}
	out[n] = '\0';
	return vg_metric_name_valid(out, n);
}

int vg_meminfo_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		     struct vg_sample_sink *sink, struct vg_err *err)
{
	char name[VG_SERIES_MAX_NAME + 1];
	struct vg_str rest = { data, (uint32_t)len }, line, key, value, unit, extra;
	struct vg_series s;
	size_t n_used = 0;
	uint64_t v;
	int rc;

	(void)ctx;
	while (vg_collect_next_line(&rest, &line)) {
		const char *colon = memchr(line.p, ':', line.len);
		bool is_bytes;

		if (colon == NULL || colon == line.p)
			continue;
		key = (struct vg_str){ line.p, (uint32_t)(colon - line.p) };
		line.p = colon + 1;
		line.len -= key.len + 1;
		if (!vg_collect_next_field(&line, &value) || !vg_collect_parse_u64(value, &v))
			continue;
		is_bytes = vg_collect_next_field(&line, &unit);
		if (is_bytes && !vg_str_eq_c(unit, "kB"))
			continue;
		if (vg_collect_next_field(&line, &extra))
			continue;
		if (!meminfo_name(key, is_bytes, name, sizeof(name)))
			continue;
		vg_series_init(&s, name);
		rc = vg_collect_emit(sink, &s, is_bytes ? (double)v * 1024.0 : (double)v, err);
		if (rc != 0)
			return rc;
		n_used++;
	}
	if (n_used == 0)
		return vg_err_set(err, VG_EINVAL, "no usable line");
	return 0;
}

static int collect_meminfo(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			   struct vg_err *err)
{
	return vg_collect_read_parse(env, env->proc_path, "meminfo", vg_meminfo_parse, sink, err);
}

const struct vg_collector vg_collector_meminfo = { "meminfo", collect_meminfo };
