/*
 * round.h: rounding to the nearest integer, halves away from zero (C's
 * llround), without libm.
 *
 * The agent needs no other function of libm, and mapping it costs every
 * agent some 300 KiB of resident memory (docs/performance.md, "Agent
 * footprint"); the linker's --as-needed then leaves it out.
 *
 * Exact for every double within the int64 range: trunc(x) is exact, and so
 * is x - trunc(x) (for |x| < 1 it is x; above, both lie within a factor of
 * two of each other); past 2^52 every double is already an integer.
 */
#ifndef VG_ROUND_H
#define VG_ROUND_H

#include <stdint.h>

/* x must lie strictly within (-2^63, 2^63); NaN is the caller's to refuse. */
static inline int64_t vg_round_i64(double x)
{
	int64_t t = (int64_t)x;
	double frac = x - (double)t;

	if (frac >= 0.5)
		t++;
	else if (frac <= -0.5)
		t--;
	return t;
}

#endif
