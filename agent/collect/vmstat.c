/*
 * vmstat.c: the vmstat collector, node_exporter's, from <proc>/vmstat: one
 * "name value" per line, as node_vmstat_<name> for the names the ctx's
 * filter keeps (node_exporter's default: oom_kill, pgpg*, pswp*, pg*fault*).
 * Invariants: the content is not trusted: a line that is not exactly a
 * name and a signed 64-bit decimal (some counters of older kernels went
 * negative), or whose name would not make a valid metric name, is skipped.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <string.h>

#include "common/banned.h"

#define PREFIX "node_vmstat_"

int vg_vmstat_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		    struct vg_sample_sink *sink, struct vg_err *err)
{
	char name[VG_SERIES_MAX_NAME + 1];
	const size_t plen = sizeof(PREFIX) - 1;
	struct vg_str rest = { data, (uint32_t)len }, line, key, value, extra;
	struct vg_series s;
	size_t n_used = 0;
	int64_t v;
	int rc;

	memcpy(name, PREFIX, plen);
	while (vg_collect_next_line(&rest, &line)) {
		bool is_wanted;

		if (!vg_collect_next_field(&line, &key))
			continue;
		/* The filter first: most lines are dropped, and once one line
		 * was usable a dropped one needs no further look (not even at
		 * the rest of its line). */
		is_wanted = vg_collect_wants(ctx, VG_FILTER_VMSTAT, key.p, key.len);
		if (!is_wanted && n_used > 0)
			continue;
		if (!vg_collect_next_field(&line, &value) || vg_collect_next_field(&line, &extra))
			continue;
		if (!vg_collect_parse_i64(value, &v) || plen + key.len > VG_SERIES_MAX_NAME)
			continue;
		memcpy(name + plen, key.p, key.len);
		name[plen + key.len] = '\0';
		if (!vg_metric_name_valid(name, plen + key.len))
			continue;
		n_used++;
		if (!is_wanted)
			continue;
		vg_series_init(&s, name);
		if ((rc = vg_collect_emit(sink, &s, (double)v, err)) != 0)
			return rc;
	}
	if (n_used == 0)
		return vg_err_set(err, VG_EINVAL, "no usable line");
	return 0;
}

static int collect_vmstat(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			  struct vg_err *err)
{
	return vg_collect_read_parse(env, env->proc_path, "vmstat", vg_vmstat_parse, sink, err);
}

const struct vg_collector vg_collector_vmstat = { "vmstat", collect_vmstat };
