/*
 * pressure.c: the pressure collector, node_exporter's, from
 * <proc>/pressure/{cpu,io,memory} (PSI, Linux 4.20+ with CONFIG_PSI and not
 * psi=0):
 *   some avg10=0.99 avg60=1.67 avg300=2.69 total=3144148463
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 * total is in microseconds:
 *   node_pressure_cpu_waiting_seconds_total      cpu "some"
 *   node_pressure_io_waiting_seconds_total       io "some"
 *   node_pressure_io_stalled_seconds_total       io "full"
 *   node_pressure_memory_waiting_seconds_total   memory "some"
 *   node_pressure_memory_stalled_seconds_total   memory "full"
 * cpu's "full" line (5.13+) is not exported, as node_exporter 1.5 does not.
 * A kernel without PSI has no <proc>/pressure: the collector returns
 * VG_ENOENT, which the agent reports once.
 * Invariants: the content is not trusted: a line whose total is missing or
 * not a 64-bit decimal is skipped; a file without a usable line is an error.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <string.h>

#include "common/banned.h"

/* The total= of each "some"/"full" line; some_name/full_name NULL: not
 * exported. */
static int parse_psi(const char *data, size_t len, const char *some_name, const char *full_name,
		     struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_str rest = { data, (uint32_t)len }, line, kind, field;
	struct vg_series s;
	size_t n_used = 0;
	uint64_t v;
	int rc;

	while (vg_collect_next_line(&rest, &line)) {
		const char *name;
		bool has_total = false;

		if (!vg_collect_next_field(&line, &kind))
			continue;
		if (vg_str_eq_c(kind, "some"))
			name = some_name;
		else if (vg_str_eq_c(kind, "full"))
			name = full_name;
		else
			continue;
		while (vg_collect_next_field(&line, &field))
			if (field.len > 6 && memcmp(field.p, "total=", 6) == 0 &&
			    vg_collect_parse_u64((struct vg_str){ field.p + 6, field.len - 6 }, &v))
				has_total = true;
		if (!has_total)
			continue;
		n_used++;
		if (name == NULL)
			continue;
		vg_series_init(&s, name);
		if ((rc = vg_collect_emit(sink, &s, (double)v / 1e6, err)) != 0)
			return rc;
	}
	if (n_used == 0)
		return vg_err_set(err, VG_EINVAL, "no some or full line with a total");
	return 0;
}

int vg_pressure_cpu_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
			  struct vg_sample_sink *sink, struct vg_err *err)
{
	(void)ctx;
	return parse_psi(data, len, "node_pressure_cpu_waiting_seconds_total", NULL, sink, err);
}

int vg_pressure_io_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
			 struct vg_sample_sink *sink, struct vg_err *err)
{
	(void)ctx;
	return parse_psi(data, len, "node_pressure_io_waiting_seconds_total",
			 "node_pressure_io_stalled_seconds_total", sink, err);
}

int vg_pressure_memory_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
			     struct vg_sample_sink *sink, struct vg_err *err)
{
	(void)ctx;
	return parse_psi(data, len, "node_pressure_memory_waiting_seconds_total",
			 "node_pressure_memory_stalled_seconds_total", sink, err);
}

static int collect_pressure(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			    struct vg_err *err)
{
	int rc;

	if ((rc = vg_collect_read_parse(env, env->proc_path, "pressure/cpu", vg_pressure_cpu_parse, sink,
					err)) != 0 ||
	    (rc = vg_collect_read_parse(env, env->proc_path, "pressure/io", vg_pressure_io_parse, sink,
					err)) != 0)
		return rc;
	return vg_collect_read_parse(env, env->proc_path, "pressure/memory", vg_pressure_memory_parse, sink,
				     err);
}

const struct vg_collector vg_collector_pressure = { "pressure", collect_pressure };
