/*
 * loadavg.c: the loadavg collector, from <proc>/loadavg.
 *
 * Owns "0.21 0.09 0.02 4/109 11547" -> node_load1, node_load5, node_load15
 * (the first three fields; the run queue and last pid are not exported).
 * Invariants: the content is not trusted: unlike the multi-line files, this
 * one is a single line, so a malformed one is an error naming the path
 * rather than a silently empty result. Numbers are parsed here, not by
 * strtod (vg_collect_parse_decimal), so that no locale, "inf", "nan" or hex
 * form can slip through.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include "common/banned.h"

int vg_loadavg_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		     struct vg_sample_sink *sink, struct vg_err *err)
{
	static const char *const names[3] = { "node_load1", "node_load5", "node_load15" };
	struct vg_str rest = { data, (uint32_t)len }, line = { "", 0 }, field;
	struct vg_series s;
	double load[3];
	int rc;

	(void)ctx;
	vg_collect_next_line(&rest, &line);
	for (int i = 0; i < 3; i++)
		if (!vg_collect_next_field(&line, &field) || !vg_collect_parse_decimal(field, &load[i]))
			return vg_err_set(err, VG_EINVAL, "field %d is not a load average", i + 1);
	for (int i = 0; i < 3; i++) {
		vg_series_init(&s, names[i]);
		if ((rc = vg_collect_emit(sink, &s, load[i], err)) != 0)
			return rc;
	}
	return 0;
}

static int collect_loadavg(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			   struct vg_err *err)
{
	return vg_collect_read_parse(env, env->proc_path, "loadavg", vg_loadavg_parse, sink, err);
}

const struct vg_collector vg_collector_loadavg = { "loadavg", collect_loadavg };
