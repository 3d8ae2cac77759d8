/*
 * Samples decoded for a reader: what the head, the blocks and the
 * storage's read interface (storage.h) hand out, and what the query
 * engine evaluates over. Ascending by time, each timestamp once; the
 * arrays grow as needed and are reused from call to call.
 */
#ifndef VIGIL_RECEIVER_STORAGE_SAMPLES_H
#define VIGIL_RECEIVER_STORAGE_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

struct vg_samples {
	int64_t *ts_ms;
	double *values;
	size_t n, cap;
};

void vg_samples_release(struct vg_samples *out);
/* Room for n samples (their count unchanged); VG_ENOMEM leaves out as it was. */
int vg_samples_reserve(struct vg_samples *out, size_t n);

#endif
