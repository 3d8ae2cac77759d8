/*
 * output.c: the CLI's side of the user: time and step arguments, and API
 * answers rendered as a table, CSV or JSON (output.h).
 *
 * Owns: the checks of the "data" shape of query, query_range and series
 * answers, the series text, column alignment, CSV quoting, the JSON printer.
 * Does not own the transport or the envelope (http.c) nor the choice of
 * what to print when (main.c).
 *
 * Invariant: a struct vg_result is fully validated and sorted before any
 * renderer sees it, and renderers only append to a buffer, so the caller
 * writes a complete answer or nothing. Text that came from the server is
 * escaped or sanitised before it reaches a terminal.
 */
#include "cli/output.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

/* |seconds| beyond this do not fit int64 milliseconds (vg_time_parse's bound). */
#define MAX_ABS_SECONDS 9.2e15

int vg_output_parse_format(const char *s, enum vg_output_format *out, struct vg_err *err)
{
	if (strcmp(s, "table") == 0)
		*out = VG_OUTPUT_TABLE;
	else if (strcmp(s, "csv") == 0)
		*out = VG_OUTPUT_CSV;
	else if (strcmp(s, "json") == 0)
		*out = VG_OUTPUT_JSON;
	else if (strcmp(s, "chart") == 0)
		*out = VG_OUTPUT_CHART;
	else
		return vg_err_set(err, VG_EINVAL, "unknown output format \"%s\" (use table, csv, json or chart)", s);
	return 0;
}

int vg_output_parse_time(const char *s, int64_t now_ms, int64_t *ms, struct vg_err *err)
{
	int64_t d;

	if (strcmp(s, "now") == 0) {
		*ms = now_ms;
		return 0;
	}
	if (strncmp(s, "now-", 4) == 0) {
		if (vg_duration_parse_api(s + 4, &d, NULL) == 0 && d >= 0)
			goto relative;
		goto bad;
	}
	if (vg_time_parse(s, ms, NULL) == 0)
		return 0;
	/* "-300" was taken above as Unix time -300, as the API reads it. */
	if (s[0] == '-' && vg_duration_parse(s + 1, &d, NULL) == 0)
		goto relative;
bad:
	return vg_err_set(err, VG_EINVAL,
		"cannot parse \"%s\" as a time (use Unix seconds, RFC 3339, now, now-5m or -5m)", s);
relative:
	/* d <= INT64_MAX and now_ms is a date, so this cannot wrap. */
	*ms = now_ms - d;
	return 0;
}

int64_t vg_output_default_step_ms(int64_t start_ms, int64_t end_ms)
{
	/* Unsigned: end - start may exceed INT64_MAX for extreme arguments. */
	uint64_t range_ms = (uint64_t)end_ms - (uint64_t)start_ms;
	uint64_t step_s = range_ms / 250 / 1000 + (range_ms % 250000 != 0);

	if (end_ms <= start_ms || step_s < 1)
		return 1000;
	if (step_s > (uint64_t)INT64_MAX / 1000)
		return INT64_MAX / 1000 * 1000;
	return (int64_t)step_s * 1000;
}

void vg_output_csv_field(struct vg_buf *out, const char *p, size_t len)
{
	bool needs_quotes = false;

	for (size_t i = 0; i < len && !needs_quotes; i++)
		needs_quotes = p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
	if (!needs_quotes) {
		vg_buf_append(out, p, len);
		return;
	}
	vg_buf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"')
			vg_buf_putc(out, '"');
		vg_buf_putc(out, p[i]);
	}
	vg_buf_putc(out, '"');
}

/* --- series text -------------------------------------------------------- */

static bool is_name_start(char c, bool is_metric)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (is_metric && c == ':');
}

/* A classic (Prometheus 2) name, which needs no quotes. */
static bool is_plain_name(const char *p, size_t len, bool is_metric)
{
	if (len == 0 || !is_name_start(p[0], is_metric))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_name_start(p[i], is_metric) && !(p[i] >= '0' && p[i] <= '9'))
			return false;
	return true;
}

/* p[0..len) between double quotes with PromQL's string escapes; C0, DEL and
 * C1 control characters escaped so that nothing reaches a terminal raw. */
static void put_quoted(struct vg_buf *out, const char *p, size_t len)
{
	vg_buf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		switch (c) {
		case '\\': vg_buf_puts(out, "\\\\"); break;
		case '"': vg_buf_puts(out, "\\\""); break;
		case '\n': vg_buf_puts(out, "\\n"); break;
		case '\r': vg_buf_puts(out, "\\r"); break;
		case '\t': vg_buf_puts(out, "\\t"); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				vg_buf_printf(out, "\\x%02x", c);
			} else if (c == 0xc2 && i + 1 < len && (unsigned char)p[i + 1] >= 0x80 &&
				   (unsigned char)p[i + 1] <= 0x9f) {
				/* U+0080..U+009F, encoded C2 80..C2 9F */
				vg_buf_printf(out, "\\u%04x", (unsigned char)p[i + 1]);
				i++;
			} else {
				vg_buf_putc(out, (char)c);
			}
		}
	}
	vg_buf_putc(out, '"');
}

static void put_name(struct vg_buf *out, const char *p, size_t len, bool is_metric)
{
	if (is_plain_name(p, len, is_metric))
		vg_buf_append(out, p, len);
	else
		put_quoted(out, p, len);
}

struct label_ref {
	const char *name;
	size_t name_len;
	const json_t *value;
};

static int label_cmp(const void *a, const void *b)
{
	const struct label_ref *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	if (c)
		return c;
	return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

/*
 * The series text of metric into out and, when key_out is not NULL, its
 * sort key: every label, __name__ included, in label-name order, as name
 * NUL value NUL. Comparing keys bytewise is Prometheus's labels.Compare:
 * the first label that differs decides, by name and then by value, and a
 * label set that is a prefix of another comes first (node_load1 before
 * node_load15, up before up{job="x"}).
 */
static int format_series(const json_t *metric, struct vg_buf *out, struct vg_buf *key_out,
			 struct vg_err *err)
{
	struct label_ref *labels = NULL;
	const json_t *name = NULL, *v;
	const char *key;
	size_t n = 0, n_out;
	int rc = 0;

	if (!json_is_object(metric))
		return vg_err_set(err, VG_EINVAL, "not an object of labels");
	labels = calloc(json_object_size(metric) + 1, sizeof(*labels));
	if (labels == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory formatting a series");
	json_object_foreach((json_t *)metric, key, v) {
		if (!json_is_string(v)) {
			rc = vg_err_set(err, VG_EINVAL, "a label value is not a string");
			goto fail;
		}
		if (strcmp(key, "__name__") == 0)
			name = v;
		labels[n].name = key;
		labels[n].name_len = strlen(key);
		labels[n].value = v;
		n++;
	}
	qsort(labels, n, sizeof(*labels), label_cmp);

	if (key_out) {
		for (size_t i = 0; i < n; i++) {
			vg_buf_append(key_out, labels[i].name, labels[i].name_len + 1);
			vg_buf_append(key_out, json_string_value(labels[i].value),
				      json_string_length(labels[i].value));
			vg_buf_putc(key_out, '\0');
		}
	}
	n_out = name ? n - 1 : n; /* labels inside the braces */
	if (name && is_plain_name(json_string_value(name), json_string_length(name), true)) {
		vg_buf_append(out, json_string_value(name), json_string_length(name));
		if (n_out == 0)
			goto fail; /* done: a bare name */
		vg_buf_putc(out, '{');
	} else {
		vg_buf_putc(out, '{');
		if (name) {
			put_quoted(out, json_string_value(name), json_string_length(name));
			if (n_out)
				vg_buf_putc(out, ',');
		}
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		if (labels[i].value == name)
			continue;
		if (k++)
			vg_buf_putc(out, ',');
		put_name(out, labels[i].name, labels[i].name_len, false);
		vg_buf_putc(out, '=');
		put_quoted(out, json_string_value(labels[i].value), json_string_length(labels[i].value));
	}
	vg_buf_putc(out, '}');
fail:
	free(labels);
	return rc;
}

int vg_output_format_series(const json_t *metric, struct vg_buf *out, struct vg_err *err)
{
	return format_series(metric, out, NULL, err);
}

/* --- answers into a struct vg_result ---------------------------------------- */

void vg_output_result_release(struct vg_result *r)
{
	for (size_t i = 0; i < r->n_rows; i++) {
		free(r->rows[i].series);
		free(r->rows[i].key);
		free(r->rows[i].points);
	}
	free(r->rows);
	r->rows = NULL;
	r->n_rows = 0;
	r->is_range = false;
}

/* [<seconds>, "<value>"] into pt; NULL, or what is wrong with p. */
static const char *parse_point(const json_t *p, struct vg_point *pt)
{
	const json_t *t, *v;
	double secs;

	if (!json_is_array(p) || json_array_size(p) != 2)
		return "not a [time, \"value\"] pair";
	t = json_array_get(p, 0);
	v = json_array_get(p, 1);
	if (!json_is_number(t))
		return "the time is not a number";
	if (!json_is_string(v))
		return "the value is not a string";
	secs = json_number_value(t);
	if (!(secs >= -MAX_ABS_SECONDS && secs <= MAX_ABS_SECONDS))
		return "the time is out of range";
	pt->ts_ms = llround(secs * 1000.0);
	pt->value = json_string_value(v);
	pt->value_len = json_string_length(v);
	return NULL;
}

static int set_series(struct vg_row *row, const json_t *metric, size_t i, struct vg_err *err)
{
	struct vg_buf b = VG_BUF_INIT, key = VG_BUF_INIT;
	int rc = format_series(metric, &b, &key, err);

	if (rc) {
		if (rc == VG_EINVAL)
			vg_err_prefix(err, "data.result[%zu].metric", i);
		goto fail;
	}
	if (vg_buf_failed(&b) || vg_buf_failed(&key)) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory formatting a series");
		goto fail;
	}
	/* The text holds at least "{}"; an empty key (from {}) is a valid
	 * empty string once the buffer is grown for its NUL. */
	if (vg_buf_grow(&key, 0) != 0) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory formatting a series");
		goto fail;
	}
	key.data[key.len] = '\0';
	row->series = vg_buf_detach(&b, &row->series_len);
	row->key = vg_buf_detach(&key, &row->key_len);
fail:
	vg_buf_release(&b);
	vg_buf_release(&key);
	return rc;
}

static int parse_sample_stream(const json_t *e, bool is_matrix, size_t i, struct vg_row *row,
			       struct vg_err *err)
{
	const json_t *vals;
	const char *why;
	int rc;

	if (!json_is_object(e))
		return vg_err_set(err, VG_EINVAL, "data.result[%zu]: not an object", i);
	rc = set_series(row, json_object_get(e, "metric"), i, err);
	if (rc)
		return rc;
	if (!is_matrix) {
		row->points = calloc(1, sizeof(*row->points));
		if (row->points == NULL)
			return vg_err_set(err, VG_ENOMEM, "out of memory reading the answer");
		why = parse_point(json_object_get(e, "value"), &row->points[0]);
		if (why)
			return vg_err_set(err, VG_EINVAL, "data.result[%zu].value: %s", i, why);
		row->n_points = 1;
		return 0;
	}
	vals = json_object_get(e, "values");
	if (!json_is_array(vals))
		return vg_err_set(err, VG_EINVAL, "data.result[%zu]: no \"values\" array", i);
	row->points = calloc(json_array_size(vals) + 1, sizeof(*row->points));
	if (row->points == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory reading the answer");
	for (size_t k = 0; k < json_array_size(vals); k++) {
		why = parse_point(json_array_get(vals, k), &row->points[k]);
		if (why)
			return vg_err_set(err, VG_EINVAL, "data.result[%zu].values[%zu]: %s", i, k, why);
		row->n_points++;
	}
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct vg_row *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	if (c)
		return c;
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

static int alloc_rows(struct vg_result *out, size_t n, struct vg_err *err)
{
	out->rows = calloc(n + 1, sizeof(*out->rows));
	if (out->rows == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory reading the answer");
	return 0;
}

/* A scalar or string result, one [time, "value"]: a row named for its type. */
static int parse_single(const json_t *result, const char *type, struct vg_result *out,
			struct vg_err *err)
{
	struct vg_row *row;
	const char *why;
	int rc;

	rc = alloc_rows(out, 1, err);
	if (rc)
		return rc;
	out->n_rows = 1;
	row = &out->rows[0];
	row->series = strdup(type);
	row->key = strdup(type);
	row->points = calloc(1, sizeof(*row->points));
	if (row->series == NULL || row->key == NULL || row->points == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory reading the answer");
	row->series_len = strlen(type);
	row->key_len = row->series_len;
	why = parse_point(result, &row->points[0]);
	if (why)
		return vg_err_set(err, VG_EINVAL, "data.result: %s", why);
	row->n_points = 1;
	return 0;
}

int vg_output_result_from_json(const json_t *data, struct vg_result *out, struct vg_err *err)
{
	const json_t *type_j, *result;
	const char *type;
	bool is_matrix;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(data))
		return vg_err_set(err, VG_EINVAL, "data: not an object");
	type_j = json_object_get(data, "resultType");
	result = json_object_get(data, "result");
	if (!json_is_string(type_j))
		return vg_err_set(err, VG_EINVAL, "data: no \"resultType\"");
	if (result == NULL)
		return vg_err_set(err, VG_EINVAL, "data: no \"result\"");
	type = json_string_value(type_j);
	if (strcmp(type, "scalar") == 0 || strcmp(type, "string") == 0) {
		rc = parse_single(result, type, out, err);
		goto out;
	}
	if (strcmp(type, "vector") == 0)
		is_matrix = false;
	else if (strcmp(type, "matrix") == 0)
		is_matrix = true;
	else
		return vg_err_set(err, VG_EINVAL, "data: unknown resultType");
	if (!json_is_array(result))
		return vg_err_set(err, VG_EINVAL, "data.result: not an array");
	rc = alloc_rows(out, json_array_size(result), err);
	if (rc)
		goto out;
	out->is_range = is_matrix;
	for (size_t i = 0; i < json_array_size(result); i++) {
		/* Counted first, so release frees a row that failed half-way. */
		out->n_rows++;
		rc = parse_sample_stream(json_array_get(result, i), is_matrix, i, &out->rows[i], err);
		if (rc)
			goto out;
	}
	qsort(out->rows, out->n_rows, sizeof(*out->rows), row_cmp);
out:
	if (rc)
		vg_output_result_release(out);
	return rc;
}

int vg_output_series_from_json(const json_t *data, struct vg_result *out, struct vg_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_array(data))
		return vg_err_set(err, VG_EINVAL, "data: not an array of series");
	rc = alloc_rows(out, json_array_size(data), err);
	if (rc)
		return rc;
	for (size_t i = 0; i < json_array_size(data); i++) {
		out->n_rows++;
		rc = set_series(&out->rows[i], json_array_get(data, i), i, err);
		if (rc) {
			if (rc == VG_EINVAL) /* it said data.result[i]: this is data[i] */
				vg_err_set(err, VG_EINVAL, "data[%zu]: not an object of string labels", i);
			vg_output_result_release(out);
			return rc;
		}
	}
	qsort(out->rows, out->n_rows, sizeof(*out->rows), row_cmp);
	return 0;
}

/* --- renderers ------------------------------------------------------------ */

/* Columns on a terminal: UTF-8 continuation bytes take none. */
static size_t text_width(const char *p, size_t len)
{
	size_t w = 0;

	for (size_t i = 0; i < len; i++)
		w += ((unsigned char)p[i] & 0xc0) != 0x80;
	return w;
}

/* A value from the server, in a table: control characters become '?'. */
static void put_text(struct vg_buf *out, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		vg_buf_putc(out, (c < 0x20 || c == 0x7f) ? '?' : (char)c);
	}
}

static void pad(struct vg_buf *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vg_buf_putc(out, ' ');
}

#define TIME_CAP 48

static void table_instant(const struct vg_result *r, struct vg_buf *out)
{
	static const char h_series[] = "SERIES", h_value[] = "VALUE", h_time[] = "TIMESTAMP";
	size_t w_series = sizeof(h_series) - 1, w_value = sizeof(h_value) - 1;
	char t[TIME_CAP];

	for (size_t i = 0; i < r->n_rows; i++) {
		const struct vg_row *row = &r->rows[i];
		size_t w = text_width(row->series, row->series_len);
		if (w > w_series)
			w_series = w;
		for (size_t k = 0; k < row->n_points; k++) {
			w = text_width(row->points[k].value, row->points[k].value_len);
			if (w > w_value)
				w_value = w;
		}
	}
	vg_buf_puts(out, h_series);
	pad(out, w_series - (sizeof(h_series) - 1) + 2);
	vg_buf_puts(out, h_value);
	pad(out, w_value - (sizeof(h_value) - 1) + 2);
	vg_buf_puts(out, h_time);
	vg_buf_putc(out, '\n');
	for (size_t i = 0; i < r->n_rows; i++) {
		const struct vg_row *row = &r->rows[i];
		for (size_t k = 0; k < row->n_points; k++) {
			const struct vg_point *pt = &row->points[k];
			vg_buf_append(out, row->series, row->series_len);
			pad(out, w_series - text_width(row->series, row->series_len) + 2);
			put_text(out, pt->value, pt->value_len);
			pad(out, w_value - text_width(pt->value, pt->value_len) + 2);
			vg_time_format_rfc3339(pt->ts_ms, t, sizeof(t));
			vg_buf_puts(out, t);
			vg_buf_putc(out, '\n');
		}
	}
}

static void table_range(const struct vg_result *r, struct vg_buf *out)
{
	size_t w_time = 0;
	char t[TIME_CAP];

	for (size_t i = 0; i < r->n_rows; i++)
		for (size_t k = 0; k < r->rows[i].n_points; k++) {
			size_t w = vg_time_format_rfc3339(r->rows[i].points[k].ts_ms, t, sizeof(t));
			if (w > w_time)
				w_time = w;
		}
	for (size_t i = 0; i < r->n_rows; i++) {
		const struct vg_row *row = &r->rows[i];
		if (i)
			vg_buf_putc(out, '\n');
		vg_buf_append(out, row->series, row->series_len);
		vg_buf_putc(out, '\n');
		for (size_t k = 0; k < row->n_points; k++) {
			size_t w = vg_time_format_rfc3339(row->points[k].ts_ms, t, sizeof(t));
			vg_buf_puts(out, "  ");
			vg_buf_puts(out, t);
			pad(out, w_time - w + 2);
			put_text(out, row->points[k].value, row->points[k].value_len);
			vg_buf_putc(out, '\n');
		}
	}
}

void vg_output_table(const struct vg_result *r, struct vg_buf *out)
{
	if (r->n_rows == 0)
		return;
	if (r->is_range)
		table_range(r, out);
	else
		table_instant(r, out);
}

void vg_output_csv(const struct vg_result *r, struct vg_buf *out)
{
	char t[32];

	vg_buf_puts(out, "series,timestamp,value\n");
	for (size_t i = 0; i < r->n_rows; i++) {
		const struct vg_row *row = &r->rows[i];
		for (size_t k = 0; k < row->n_points; k++) {
			vg_output_csv_field(out, row->series, row->series_len);
			vg_buf_putc(out, ',');
			vg_buf_append(out, t, vg_fmt_timestamp(row->points[k].ts_ms, t, sizeof(t)));
			vg_buf_putc(out, ',');
			vg_output_csv_field(out, row->points[k].value, row->points[k].value_len);
			vg_buf_putc(out, '\n');
		}
	}
}

void vg_output_series_list(const struct vg_result *r, struct vg_buf *out)
{
	for (size_t i = 0; i < r->n_rows; i++) {
		vg_buf_append(out, r->rows[i].series, r->rows[i].series_len);
		vg_buf_putc(out, '\n');
	}
}

void vg_output_series_csv(const struct vg_result *r, struct vg_buf *out)
{
	vg_buf_puts(out, "series\n");
	for (size_t i = 0; i < r->n_rows; i++) {
		vg_output_csv_field(out, r->rows[i].series, r->rows[i].series_len);
		vg_buf_putc(out, '\n');
	}
}

int vg_output_strings(const json_t *data, bool is_csv, const char *csv_header, struct vg_buf *out,
		      struct vg_err *err)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(data))
		return vg_err_set(err, VG_EINVAL, "data: not an array");
	json_array_foreach(data, i, v) {
		if (!json_is_string(v))
			return vg_err_set(err, VG_EINVAL, "data[%zu]: not a string", i);
	}
	if (is_csv)
		vg_buf_printf(out, "%s\n", csv_header);
	json_array_foreach(data, i, v) {
		const char *p = json_string_value(v);
		size_t len = json_string_length(v);
		bool is_plain = len > 0;

		for (size_t k = 0; k < len && is_plain; k++) {
			unsigned char c = (unsigned char)p[k];

			is_plain = c >= 0x20 && c != 0x7f && c != '"' &&
				   !(c == 0xc2 && k + 1 < len && (unsigned char)p[k + 1] <= 0x9f);
		}
		if (is_csv)
			vg_output_csv_field(out, p, len);
		else if (is_plain)
			vg_buf_append(out, p, len);
		else
			put_quoted(out, p, len);
		vg_buf_putc(out, '\n');
	}
	return 0;
}

/* --- JSON ----------------------------------------------------------------- */

static void json_string_out(struct vg_buf *out, const char *p, size_t len)
{
	vg_buf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		switch (c) {
		case '"': vg_buf_puts(out, "\\\""); break;
		case '\\': vg_buf_puts(out, "\\\\"); break;
		case '\b': vg_buf_puts(out, "\\b"); break;
		case '\f': vg_buf_puts(out, "\\f"); break;
		case '\n': vg_buf_puts(out, "\\n"); break;
		case '\r': vg_buf_puts(out, "\\r"); break;
		case '\t': vg_buf_puts(out, "\\t"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				vg_buf_printf(out, "\\u%04x", c);
			else
				vg_buf_putc(out, (char)c);
		}
	}
	vg_buf_putc(out, '"');
}

/* The shortest "%g" text that reads back as v, so that a timestamp such as
 * 1435781451.781 prints as it was sent (jansson would print 17 digits). */
static void json_real_out(struct vg_buf *out, double v)
{
	char s[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	vg_buf_puts(out, s);
	if (strpbrk(s, ".eE") == NULL && isfinite(v))
		vg_buf_puts(out, ".0"); /* still a real when read back */
}

static void json_indent(struct vg_buf *out, int depth)
{
	vg_buf_putc(out, '\n');
	pad(out, (size_t)depth * 2);
}

/* Depth is bounded by jansson's parser (JSON_PARSER_MAX_DEPTH). */
static void json_value_out(struct vg_buf *out, const json_t *v, int depth)
{
	const char *key;
	json_t *e;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (json_object_size(v) == 0) {
			vg_buf_puts(out, "{}");
			break;
		}
		vg_buf_putc(out, '{');
		i = 0;
		json_object_foreach((json_t *)v, key, e) {
			if (i++)
				vg_buf_putc(out, ',');
			json_indent(out, depth + 1);
			json_string_out(out, key, strlen(key));
			vg_buf_puts(out, ": ");
			json_value_out(out, e, depth + 1);
		}
		json_indent(out, depth);
		vg_buf_putc(out, '}');
		break;
	case JSON_ARRAY:
		if (json_array_size(v) == 0) {
			vg_buf_puts(out, "[]");
			break;
		}
		vg_buf_putc(out, '[');
		json_array_foreach(v, i, e) {
			if (i)
				vg_buf_putc(out, ',');
			json_indent(out, depth + 1);
			json_value_out(out, e, depth + 1);
		}
		json_indent(out, depth);
		vg_buf_putc(out, ']');
		break;
	case JSON_STRING:
		json_string_out(out, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		vg_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		json_real_out(out, json_real_value(v));
		break;
	case JSON_TRUE:
		vg_buf_puts(out, "true");
		break;
	case JSON_FALSE:
		vg_buf_puts(out, "false");
		break;
	case JSON_NULL:
		vg_buf_puts(out, "null");
		break;
	}
}

void vg_output_json(const json_t *doc, struct vg_buf *out)
{
	json_value_out(out, doc, 0);
	vg_buf_putc(out, '\n');
}
