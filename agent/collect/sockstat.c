/*
 * sockstat.c: the sockstat collector, node_exporter's, from
 * <proc>/net/sockstat and <proc>/net/sockstat6:
 *   sockets: used 16                -> node_sockstat_sockets_used
 *   TCP: inuse 1 orphan 0 ... mem 105 -> node_sockstat_TCP_inuse, ..._TCP_mem,
 *                                     and node_sockstat_TCP_mem_bytes (pages *
 *                                     the page size) for every "mem" key
 *   TCP6: inuse 0                   -> node_sockstat_TCP6_inuse
 * sockstat6 is absent when IPv6 is off: it is then skipped.
 * Invariants: the content is not trusted: a line is "Proto:" then key/value
 * pairs; a pair whose value is not a 64-bit decimal or whose name would not
 * be a valid metric name is skipped, the rest of the line still read.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <string.h>
#include <unistd.h>

#include "common/banned.h"

#define PREFIX "node_sockstat_"

static int emit(struct vg_str proto, struct vg_str key, const char *suffix, double v,
		struct vg_sample_sink *sink, struct vg_err *err)
{
	char name[VG_SERIES_MAX_NAME + 1];
	const size_t plen = sizeof(PREFIX) - 1, slen = strlen(suffix);
	size_t n = plen + proto.len + 1 + key.len + slen;
	struct vg_series s;

	if (n > VG_SERIES_MAX_NAME)
		return 0;
	memcpy(name, PREFIX, plen);
	memcpy(name + plen, proto.p, proto.len);
	name[plen + proto.len] = '_';
	memcpy(name + plen + proto.len + 1, key.p, key.len);
	memcpy(name + n - slen, suffix, slen);
	name[n] = '\0';
	if (!vg_metric_name_valid(name, n))
		return 0;
	vg_series_init(&s, name);
	return vg_collect_emit(sink, &s, v, err);
}

int vg_sockstat_parse_pages(const char *data, size_t len, double page_size,
			    struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_str rest = { data, (uint32_t)len }, line, proto, key, value;
	size_t n_used = 0;
	uint64_t v;
	int rc;

	while (vg_collect_next_line(&rest, &line)) {
		const char *colon = memchr(line.p, ':', line.len);

		if (colon == NULL || colon == line.p)
			continue;
		proto = (struct vg_str){ line.p, (uint32_t)(colon - line.p) };
		line.len -= proto.len + 1;
		line.p = colon + 1;
		while (vg_collect_next_field(&line, &key) && vg_collect_next_field(&line, &value)) {
			if (!vg_collect_parse_u64(value, &v))
				continue;
			n_used++;
			if ((rc = emit(proto, key, "", (double)v, sink, err)) != 0)
				return rc;
			if (vg_str_eq_c(key, "mem") &&
			    (rc = emit(proto, key, "_bytes", (double)v * page_size, sink, err)) != 0)
				return rc;
		}
	}
	if (n_used == 0)
		return vg_err_set(err, VG_EINVAL, "no usable line");
	return 0;
}

int vg_sockstat_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		      struct vg_sample_sink *sink, struct vg_err *err)
{
	long page = sysconf(_SC_PAGESIZE);

	(void)ctx;
	return vg_sockstat_parse_pages(data, len, page > 0 ? (double)page : 4096, sink, err);
}

int vg_sockstat6_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		       struct vg_sample_sink *sink, struct vg_err *err)
{
	return vg_sockstat_parse(ctx, data, len, sink, err);
}

static int collect_sockstat(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			    struct vg_err *err)
{
	int rc = vg_collect_read_parse(env, env->proc_path, "net/sockstat", vg_sockstat_parse, sink, err);

	if (rc != 0)
		return rc;
	rc = vg_collect_read_parse(env, env->proc_path, "net/sockstat6", vg_sockstat6_parse, sink, err);
	return rc == VG_ENOENT ? 0 : rc;
}

const struct vg_collector vg_collector_sockstat = { "sockstat", collect_sockstat };
