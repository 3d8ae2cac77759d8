/*
 * entropy.c: the entropy collector, node_exporter's, from
 * <proc>/sys/kernel/random/entropy_avail and poolsize, one number each:
 *   node_entropy_available_bits, node_entropy_pool_size_bits
 * The first is required; poolsize is skipped where the kernel lacks it.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include "common/banned.h"

/* One number on one line, as the sample the sink's series names: the parser
 * emits "node_entropy_available_bits"; the collector renames for poolsize. */
struct rename {
	struct vg_sample_sink *sink;
	const char *name;
};

static int rename_add(void *arg, struct vg_series *s, double v)
{
	struct rename *r = arg;

	s->name = vg_str_c(r->name);
	return r->sink->add(r->sink->arg, s, v);
}

int vg_entropy_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		     struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_series s;
	uint64_t v;

	(void)ctx;
	if (!vg_collect_parse_one_u64(data, len, &v))
		return vg_err_set(err, VG_EINVAL, "expected one number");
	vg_series_init(&s, "node_entropy_available_bits");
	return vg_collect_emit(sink, &s, (double)v, err);
}

static int collect_entropy(const struct vg_collect_env *env, struct vg_sample_sink *sink, struct vg_err *err)
{
	struct rename pool = { sink, "node_entropy_pool_size_bits" };
	struct vg_sample_sink pool_sink = { rename_add, &pool };
	struct vg_err ignored;
	int rc;

	if ((rc = vg_collect_read_parse(env, env->proc_path, "sys/kernel/random/entropy_avail",
					vg_entropy_parse, sink, err)) != 0)
		return rc;
	/* poolsize is skipped where the kernel lacks it; a refusal of the sink
	 * still stops the collector. */
	rc = vg_collect_read_parse(env, env->proc_path, "sys/kernel/random/poolsize", vg_entropy_parse,
				   &pool_sink, &ignored);
	if (rc > 0 || (rc != VG_ENOENT && rc != VG_EINVAL && rc != VG_EIO && rc != VG_ELIMIT && rc != 0)) {
		*err = ignored;
		return rc;
	}
	return 0;
}

const struct vg_collector vg_collector_entropy = { "entropy", collect_entropy };
