/*
 * functions.c: the PromQL function table (functions.h), with the argument
 * and return types of Prometheus 3's promql/parser/functions.go for the
 * float functions (native-histogram functions are not in Vigil's subset).
 */
#include "promql/functions.h"

#include <string.h>

#include "common/banned.h"

#define S VG_PROMQL_SCALAR
#define V VG_PROMQL_VECTOR
#define M VG_PROMQL_MATRIX
#define T VG_PROMQL_STRING

static const struct vg_promql_func funcs[] = {
	{ "abs", { V }, 1, 0, V },
	{ "absent", { V }, 1, 0, V },
	{ "absent_over_time", { M }, 1, 0, V },
	{ "acos", { V }, 1, 0, V },
	{ "acosh", { V }, 1, 0, V },
	{ "asin", { V }, 1, 0, V },
	{ "asinh", { V }, 1, 0, V },
	{ "atan", { V }, 1, 0, V },
	{ "atanh", { V }, 1, 0, V },
	{ "avg_over_time", { M }, 1, 0, V },
	{ "ceil", { V }, 1, 0, V },
	{ "changes", { M }, 1, 0, V },
	{ "clamp", { V, S, S }, 3, 0, V },
	{ "clamp_max", { V, S }, 2, 0, V },
	{ "clamp_min", { V, S }, 2, 0, V },
	{ "cos", { V }, 1, 0, V },
	{ "cosh", { V }, 1, 0, V },
	{ "count_over_time", { M }, 1, 0, V },
	{ "day_of_month", { V }, 1, 1, V },
	{ "day_of_week", { V }, 1, 1, V },
	{ "day_of_year", { V }, 1, 1, V },
	{ "days_in_month", { V }, 1, 1, V },
	{ "deg", { V }, 1, 0, V },
	{ "delta", { M }, 1, 0, V },
	{ "deriv", { M }, 1, 0, V },
	{ "double_exponential_smoothing", { M, S, S }, 3, 0, V },
	{ "exp", { V }, 1, 0, V },
	{ "first_over_time", { M }, 1, 0, V },
	{ "floor", { V }, 1, 0, V },
	{ "histogram_quantile", { S, V }, 2, 0, V },
	{ "hour", { V }, 1, 1, V },
	{ "idelta", { M }, 1, 0, V },
	{ "increase", { M }, 1, 0, V },
	{ "irate", { M }, 1, 0, V },
	{ "label_join", { V, T, T, T }, 4, -1, V },
	{ "label_replace", { V, T, T, T, T }, 5, 0, V },
	{ "last_over_time", { M }, 1, 0, V },
	{ "ln", { V }, 1, 0, V },
	{ "log10", { V }, 1, 0, V },
	{ "log2", { V }, 1, 0, V },
	{ "mad_over_time", { M }, 1, 0, V },
	{ "max_over_time", { M }, 1, 0, V },
	{ "min_over_time", { M }, 1, 0, V },
	{ "minute", { V }, 1, 1, V },
	{ "month", { V }, 1, 1, V },
	{ "pi", { 0 }, 0, 0, S },
	{ "predict_linear", { M, S }, 2, 0, V },
	{ "present_over_time", { M }, 1, 0, V },
	{ "quantile_over_time", { S, M }, 2, 0, V },
	{ "rad", { V }, 1, 0, V },
	{ "rate", { M }, 1, 0, V },
	{ "resets", { M }, 1, 0, V },
	{ "round", { V, S }, 2, 1, V },
	{ "scalar", { V }, 1, 0, S },
	{ "sgn", { V }, 1, 0, V },
	{ "sin", { V }, 1, 0, V },
	{ "sinh", { V }, 1, 0, V },
	{ "sort", { V }, 1, 0, V },
	{ "sort_by_label", { V, T }, 2, -1, V },
	{ "sort_by_label_desc", { V, T }, 2, -1, V },
	{ "sort_desc", { V }, 1, 0, V },
	{ "sqrt", { V }, 1, 0, V },
	{ "stddev_over_time", { M }, 1, 0, V },
	{ "stdvar_over_time", { M }, 1, 0, V },
	{ "sum_over_time", { M }, 1, 0, V },
	{ "tan", { V }, 1, 0, V },
	{ "tanh", { V }, 1, 0, V },
	{ "time", { 0 }, 0, 0, S },
	{ "timestamp", { V }, 1, 0, V },
	{ "vector", { S }, 1, 0, V },
	{ "year", { V }, 1, 1, V },
};

const struct vg_promql_func *vg_promql_func_find(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		if (strlen(funcs[i].name) == n && memcmp(funcs[i].name, s, n) == 0)
			return &funcs[i];
	return NULL;
}

bool vg_promql_func_is_experimental(const struct vg_promql_func *f)
{
	/* Prometheus 3.x marks more as experimental; of those Vigil knows,
	 * the engine evaluates all but this one */
	return strcmp(f->name, "double_exponential_smoothing") == 0;
}
