/*
 * output.h: what the CLI reads from its user and writes for them: time
 * arguments, the query step, and the rendering of API answers as a table,
 * CSV or JSON.
 *
 * Answers are first converted into a struct vg_result (validated, sorted by
 * series as Prometheus sorts label sets), then rendered into a struct vg_buf; nothing is printed until the
 * whole answer has been checked, so an error never leaves half a table.
 *
 * Series are written as Prometheus writes them, name{label="value",...}:
 * labels sorted by name, the name outside the braces ("{}" when a series has
 * neither), values between double quotes with the escapes of PromQL strings
 * (\\ \" \n \r \t, other control characters as \xHH or \uHHHH), so that a
 * printed series can be pasted back as a selector. A name that is not a
 * classic metric or label name is quoted, as Prometheus 3 does:
 * {"my.metric",a="x"}.
 */
#ifndef VG_CLI_OUTPUT_H
#define VG_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct vg_buf;
struct vg_err;

enum vg_output_format {
	VG_OUTPUT_TABLE,
	VG_OUTPUT_CSV,
	VG_OUTPUT_JSON,
	VG_OUTPUT_CHART, /* query only: cli/chart.h */
};

/* "table", "csv", "json" or "chart"; VG_EINVAL otherwise. */
int vg_output_parse_format(const char *s, enum vg_output_format *out, struct vg_err *err);

/*
 * A time argument: what the API takes (Unix seconds, RFC 3339; see
 * vg_time_parse) plus forms relative to now_ms: "now", "now-D" (D a
 * Prometheus duration or a number of seconds, vg_duration_parse_api) and
 * "-D" (D a Prometheus duration: "-5m"; "-300" is Unix time -300, as the
 * API reads it).
 */
int vg_output_parse_time(const char *s, int64_t now_ms, int64_t *ms, struct vg_err *err);

/* The step of a range query when none is given: the range / 250, rounded up
 * to a whole second, at least 1 s. Needs start_ms <= end_ms. */
int64_t vg_output_default_step_ms(int64_t start_ms, int64_t end_ms);

/* Appends one CSV field, quoted per RFC 4180 when it holds a comma, a
 * double quote, CR or LF (quotes doubled inside). */
void vg_output_csv_field(struct vg_buf *out, const char *p, size_t len);

/* Appends the series of a "metric" object ({"__name__":"up","job":"x"}) as
 * described above. VG_EINVAL if it is not an object of strings. */
int vg_output_format_series(const json_t *metric, struct vg_buf *out, struct vg_err *err);

struct vg_point {
	int64_t ts_ms;
	const char *value; /* the API's text ("0.25", "NaN"); borrowed */
	size_t value_len;
};

struct vg_row {
	char *series;      /* formatted as above; owned */
	size_t series_len;
	char *key;         /* the sort key: label names and values, NUL after */
	size_t key_len;    /* each, in label order, __name__ included; owned */
	size_t n_points;
	struct vg_point *points; /* owned array; time order as received */
};

struct vg_result {
	size_t n_rows;
	struct vg_row *rows;  /* owned, sorted by key */
	bool is_range;        /* a matrix: many points per row */
};

/*
 * Converts the "data" of a /api/v1/query or /api/v1/query_range answer
 * (resultType vector, matrix, scalar or string) into out. Values are
 * borrowed from data: keep the document until out is released. VG_EINVAL
 * with the path of the first fault ("data.result[2].value: ...") if the
 * shape is not the API's; out is then empty.
 */
int vg_output_result_from_json(const json_t *data, struct vg_result *out, struct vg_err *err);

/* The same for /api/v1/series: one row without points per series. */
int vg_output_series_from_json(const json_t *data, struct vg_result *out, struct vg_err *err);

void vg_output_result_release(struct vg_result *r);

/*
 * Renderers append to out; they write nothing for an empty result except
 * the CSV header.
 *  - table, not is_range: aligned columns SERIES VALUE TIMESTAMP (RFC 3339);
 *  - table, is_range: per series a heading line, then "  TIME  VALUE" lines,
 *    a blank line between series;
 *  - csv: "series,timestamp,value", one line per point, timestamps as Unix
 *    seconds as the API writes them (vg_fmt_timestamp), values as the
 *    API's text;
 *  - series list: one series per line; its CSV has the header "series".
 */
void vg_output_table(const struct vg_result *r, struct vg_buf *out);
void vg_output_csv(const struct vg_result *r, struct vg_buf *out);
void vg_output_series_list(const struct vg_result *r, struct vg_buf *out);
void vg_output_series_csv(const struct vg_result *r, struct vg_buf *out);

/*
 * The data of /api/v1/labels or /api/v1/label/NAME/values, an array of
 * strings, in their order: as a table one a line (a string holding a
 * control character, a double quote or nothing at all written quoted as
 * a label value is); as CSV csv_header then one field a line. VG_EINVAL
 * if data is not an array of strings; out is then unchanged.
 */
int vg_output_strings(const json_t *data, bool is_csv, const char *csv_header, struct vg_buf *out,
		      struct vg_err *err);

/* Appends a document as JSON indented by two spaces, members in their
 * order, numbers in their shortest exact form, ending in a newline. */
void vg_output_json(const json_t *doc, struct vg_buf *out);

#endif
