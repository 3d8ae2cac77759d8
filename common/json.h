/*
 * json.h: writing JSON and Prometheus number text into a struct vg_buf.
 * Reading JSON (the CLI) uses jansson; writing is done here because the
 * receiver streams large responses and a document tree would double them.
 *
 * Numbers follow Prometheus (util/jsonutil, strconv.FormatFloat):
 *  - a sample value is the shortest decimal that reads back as the same
 *    double, in fixed notation, switching to exponent form ("1e-07",
 *    "1e+21") when |v| < 1e-6 or |v| >= 1e21 (v != 0); "NaN", "+Inf", "-Inf".
 *  - a timestamp is seconds: "1435781451", or with exactly three decimals
 *    when the millisecond part is not zero: "1435781451.050".
 * A scalar or string result is the exception (vg_json_scalar).
 */
#ifndef VG_JSON_H
#define VG_JSON_H

#include <stddef.h>
#include <stdint.h>

struct vg_buf;

/* Appends p[0..len) as a quoted JSON string; invalid UTF-8 bytes become
 * U+FFFD, control characters \u00XX. */
void vg_json_str(struct vg_buf *b, const char *p, size_t len);
void vg_json_cstr(struct vg_buf *b, const char *s);

/* Writes the Prometheus text of a value; returns its length (< 32). */
size_t vg_fmt_value(double v, char *out, size_t cap);
/* Writes seconds with optional .mmm; returns its length. */
size_t vg_fmt_timestamp(int64_t ms, char *out, size_t cap);

/* Appends the value as a JSON string: "0.25". */
void vg_json_value(struct vg_buf *b, double v);
/* Appends [<timestamp>,"<value>"]. */
void vg_json_sample(struct vg_buf *b, int64_t ts_ms, double v);
/* The same for a scalar result, as promql.Scalar's own MarshalJSON
 * writes it: the value with Go's FormatFloat(v, 'f', -1, 64) whatever
 * its size ("0.0000001", "1000000000000000000000"), the time as
 * encoding/json writes the float64 seconds ("1435781451.05"). */
void vg_json_scalar(struct vg_buf *b, int64_t ts_ms, double v);
/* Appends the time of a scalar or string result, as above. */
void vg_json_scalar_time(struct vg_buf *b, int64_t ts_ms);

#endif
