/*
 * loadavg.c: the loadavg collector, from <proc>/loadavg.
 *
 * Owns "0.21 0.09 0.02 4/109 11547" -> node_load1, node_load5, node_load15
 * (the first three fields; the run queue and last pid are not exported).
 * Invariants: the content is not trusted: unlike the multi-line files, this
 * one is a single line, so a malformed one is an error naming the path
 * rather than a silently empty result. Numbers are parsed here, not by
 * strtod, so that no locale, "inf", "nan" or hex form can slip through.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <limits.h>

#include "common/banned.h"

#define MAX_DIGITS 18 /* all digits of the number fit in a uint64_t */

static const double pow10_table[MAX_DIGITS + 1] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
};

/* digits[.digits]; the result is the correctly rounded quotient of two
 * exact doubles for the kernel's "%lu.%02lu", so 0.21 reads as 0.21. */
static bool parse_decimal(struct vg_str s, double *out)
{
	uint64_t mant = 0;
	unsigned n_digits = 0, n_frac = 0;
	bool has_point = false, has_int = false;

	for (uint32_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		if (c == '.' && !has_point && has_int) {
			has_point = true;
			continue;
		}
		if (c < '0' || c > '9' || ++n_digits > MAX_DIGITS)
			return false;
		mant = mant * 10 + (uint64_t)(c - '0');
		if (has_point)
			n_frac++;
		else
			has_int = true;
	}
	if (!has_int || (has_point && n_frac == 0))
		return false;
	*out = (double)mant / pow10_table[n_frac];
	return true;
}

static int collect_loadavg(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			   struct vg_err *err)
{
	static const char *const names[3] = { "node_load1", "node_load5", "node_load15" };
	struct vg_collect_file f;
	char path[PATH_MAX];
	struct vg_str rest, line = { "", 0 }, field;
	struct vg_series s;
	double load[3];
	int rc;

	rc = vg_collect_path(path, sizeof(path), env->proc_path, "loadavg", err);
	if (rc != 0)
		return rc;
	rc = vg_collect_file_read(&f, path, err);
	if (rc != 0)
		return rc;
	rest = (struct vg_str){ f.data, (uint32_t)f.len };
	vg_collect_next_line(&rest, &line);
	for (int i = 0; i < 3; i++) {
		if (!vg_collect_next_field(&line, &field) || !parse_decimal(field, &load[i])) {
			rc = vg_err_set(err, VG_EINVAL, "%s: field %d is not a load average", path,
					i + 1);
			goto out;
		}
	}
	for (int i = 0; i < 3; i++) {
		vg_series_init(&s, names[i]);
		rc = vg_collect_emit(sink, &s, load[i], err);
		if (rc != 0)
			goto out;
	}
out:
	vg_collect_file_release(&f);
	return rc;
}

const struct vg_collector vg_collector_loadavg = { "loadavg", collect_loadavg };
