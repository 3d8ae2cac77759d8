/* samples.c: the readers' sample arrays (samples.h). */
#include "config.h"

#include "receiver/storage/samples.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

void vg_samples_release(struct vg_samples *out)
{
	free(out->ts_ms);
	free(out->values);
	memset(out, 0, sizeof(*out));
}

int vg_samples_reserve(struct vg_samples *out, size_t n)
{
	int64_t *ts;
	double *vs;

	if (n <= out->cap)
		return 0;
	ts = realloc(out->ts_ms, n * sizeof(*ts));
	if (ts == NULL)
		return VG_ENOMEM;
	out->ts_ms = ts;
	vs = realloc(out->values, n * sizeof(*vs));
	if (vs == NULL)
		return VG_ENOMEM;
	out->values = vs;
	out->cap = n;
	return 0;
}
