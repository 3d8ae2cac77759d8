/*
 * test_http_api.c: the HTTP API (receiver/http/http_api.c) started in-process on
 * 127.0.0.1, port 0, over a head filled in-process; real requests with
 * libcurl over loopback, responses read with jansson. Covers the envelope
 * and encodings of /query, /query_range, /series, /labels, /label/x/values,
 * /status/buildinfo and /metrics, Prometheus's error texts, CORS preflight,
 * the body cap, and hostile query strings the server must survive.
 */
#include "config.h" /* PACKAGE_VERSION */

#include "receiver/http/http_api.h"
#include "tests/harness.h" /* vg_t_http_read_reply */
#include "receiver/storage/storage.h"
#include "receiver/storage/head.h"
#include "receiver/stats.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/series.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/banned.h"

static struct vg_head *head;
static struct vg_storage *storage;
static struct vg_stats stats;
static struct vg_http_api *api;
static uint16_t port;

struct reply {
	long status;
	struct vg_buf body;
	struct vg_buf headers;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	vg_buf_append(arg, p, size * n);
	return size * n;
}

static void reply_release(struct reply *r)
{
	vg_buf_release(&r->body);
	vg_buf_release(&r->headers);
}

/* method "GET", "POST" or any other; body for POST (form-encoded) or
 * another method (then sent as it is); extra_header ("Name: value") may
 * be NULL. */
static void request_with(const char *method, const char *path, const char *extra_header,
			 const char *body, size_t body_len, struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct vg_buf url = VG_BUF_INIT;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	ck_assert_ptr_nonnull(c);
	vg_buf_printf(&url, "http://127.0.0.1:%u%s", (unsigned)port, path);
	curl_easy_setopt(c, CURLOPT_URL, vg_buf_cstr(&url));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (extra_header != NULL)
		hdrs = curl_slist_append(hdrs, extra_header);
	if (strcmp(method, "POST") == 0)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(method, "POST") == 0 || (body != NULL && strcmp(method, "GET") != 0)) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	if (strcmp(method, "POST") != 0 && strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	vg_buf_release(&url);
}

static void request(const char *method, const char *path, const char *body, size_t body_len,
		    struct reply *r)
{
	request_with(method, path, NULL, body, body_len, r);
}

static void get(const char *path, struct reply *r)
{
	request("GET", path, NULL, 0, r);
}

/* The value of header name in r (case-insensitive), or NULL; static. */
static const char *header(const struct reply *r, const char *name)
{
	static char val[512];
	const char *p = vg_buf_cstr(&r->headers);
	size_t n = strlen(name);

	while (p && *p) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e;
			while (*v == ' ')
				v++;
			e = strpbrk(v, "\r\n");
			snprintf(val, sizeof(val), "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return val;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static json_t *parse(const struct reply *r)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)r->body.data, r->body.len, 0, &e);

	ck_assert_msg(j != NULL, "not JSON (%s): %s", e.text, vg_buf_cstr(&r->body));
	return j;
}

/* A success reply: 200, JSON, status "success"; returns data (borrowed
 * from *root, which the caller frees). */
static json_t *success_data(const struct reply *r, json_t **root)
{
	ck_assert_msg(r->status == 200, "status %ld: %s", r->status, vg_buf_cstr(&r->body));
	ck_assert_str_eq(header(r, "Content-Type"), "application/json");
	*root = parse(r);
	ck_assert_str_eq(json_string_value(json_object_get(*root, "status")), "success");
	return json_object_get(*root, "data");
}

static void check_error(const char *method, const char *path, const char *body, long status,
			const char *type, const char *msg_prefix)
{
	struct reply r;
	json_t *j;
	const char *msg;

	request(method, path, body, body ? strlen(body) : 0, &r);
	ck_assert_msg(r.status == status, "%s: status %ld: %s", path, r.status, vg_buf_cstr(&r.body));
	ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
	j = parse(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "error");
	ck_assert_str_eq(json_string_value(json_object_get(j, "errorType")), type);
	ck_assert_ptr_null(json_object_get(j, "data"));
	msg = json_string_value(json_object_get(j, "error"));
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(strncmp(msg, msg_prefix, strlen(msg_prefix)) == 0, "%s: error \"%s\"", path, msg);
	json_decref(j);
	reply_release(&r);
}

static void check_bad(const char *path, const char *msg_prefix)
{
	check_error("GET", path, NULL, 400, "bad_data", msg_prefix);
}

static uint32_t add(const char *name, ...)
{
	struct vg_series s;
	const char *k;
	uint32_t id;
	bool is_new;
	va_list ap;

	vg_series_init(&s, name);
	va_start(ap, name);
	while ((k = va_arg(ap, const char *)) != NULL)
		vg_series_add(&s, k, va_arg(ap, const char *));
	va_end(ap);
	ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
	ck_assert_int_eq(vg_head_get_or_create(head, &s, vg_series_hash(&s), &id, &is_new), 0);
	return id;
}

static void put(uint32_t id, int64_t ts, double v)
{
	ck_assert_int_eq(vg_head_append(head, 1, &id, &ts, &v), 0);
}

/*
 * The data: times in ms.
 *   up{instance="a",job="api"}  1000 s: 1, 1010 s: 0.25
 *   up{instance="c",job="db"}   1000 s: 1e-07
 *   node_x{mode="idle"}         1000 s: 123456.5
 */
static void setup(void)
{
	struct vg_http_api_options o = { .host = "127.0.0.1", .port = 0, .lookback_ms = 300000 };
	struct vg_err err;
	uint32_t a, c, x;

	head = vg_head_new();
	vg_stats_init(&stats);
	a = add("up", "job", "api", "instance", "a", NULL);
	c = add("up", "job", "db", "instance", "c", NULL);
	x = add("node_x", "mode", "idle", NULL);
	put(a, 1000000, 1);
	put(a, 1010000, 0.25);
	put(c, 1000000, 1e-7);
	put(x, 1000000, 123456.5);
	struct vg_storage_options so = { NULL, head };
	ck_assert_int_eq(vg_storage_open(&so, &storage, NULL), 0);
	o.head = head;
	o.storage = storage;
	o.stats = &stats;
	ck_assert_msg(vg_http_api_start(&o, &api, &err) == 0, "%s", err.msg);
	port = vg_http_api_port(api);
	ck_assert_uint_ne(port, 0);
}

static void teardown(void)
{
	vg_http_api_stop(api);
	vg_storage_close(storage);
	vg_head_free(head);
}

/* --- queries --------------------------------------------------------------- */

START_TEST(test_http_query_vector_shape_and_encoding)
{
	struct reply r;
	json_t *root, *data, *res, *m;

	get("/api/v1/query?query=up&time=1010.5", &r);
	data = success_data(&r, &root);
	ck_assert_str_eq(json_string_value(json_object_get(data, "resultType")), "vector");
	res = json_object_get(data, "result");
	ck_assert_uint_eq(json_array_size(res), 2);
	m = json_object_get(json_array_get(res, 0), "metric");
	ck_assert_uint_eq(json_object_size(m), 3);
	ck_assert_str_eq(json_string_value(json_object_get(m, "__name__")), "up");
	ck_assert_str_eq(json_string_value(json_object_get(m, "instance")), "a");
	ck_assert_str_eq(json_string_value(json_object_get(m, "job")), "api");
	/* Exact text: timestamp with three decimals, values as Go writes them,
	 * labels in name order with __name__ first. */
	ck_assert_msg(strstr(vg_buf_cstr(&r.body),
			     "{\"metric\":{\"__name__\":\"up\",\"instance\":\"a\",\"job\":\"api\"},"
			     "\"value\":[1010.500,\"0.25\"]}") != NULL, "%s", vg_buf_cstr(&r.body));
	ck_assert_msg(strstr(vg_buf_cstr(&r.body), "\"value\":[1010.500,\"1e-07\"]") != NULL, "%s",
		      vg_buf_cstr(&r.body));
	ck_assert_ptr_null(json_object_get(root, "warnings"));
	json_decref(root);
	reply_release(&r);

	get("/api/v1/query?query=node_x&time=1000", &r);
	ck_assert_msg(strstr(vg_buf_cstr(&r.body), "\"value\":[1000,\"123456.5\"]") != NULL, "%s",
		      vg_buf_cstr(&r.body));
	reply_release(&r);
}
END_TEST

START_TEST(test_http_query_empty_result_is_array)
{
	struct reply r;

	get("/api/v1/query?query=nosuch&time=1000", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(vg_buf_cstr(&r.body),
			 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
	reply_release(&r);
}
END_TEST

START_TEST(test_http_query_lookback_delta_param)
{
	struct reply r;
	json_t *root, *data;

	/* 400 s after the last sample: outside the default 5m. */
	get("/api/v1/query?query=up%7Bjob%3D%22api%22%7D&time=1410", &r);
	data = success_data(&r, &root);
	ck_assert_uint_eq(json_array_size(json_object_get(data, "result")), 0);
	json_decref(root);
	reply_release(&r);
	get("/api/v1/query?query=up%7Bjob%3D%22api%22%7D&time=1410&lookback_delta=10m", &r);
	data = success_data(&r, &root);
	ck_assert_uint_eq(json_array_size(json_object_get(data, "result")), 1);
	json_decref(root);
	reply_release(&r);
	check_bad("/api/v1/query?query=up&lookback_delta=x",
		  "error parsing lookback delta duration: cannot parse \"x\" to a valid duration");
}
END_TEST

START_TEST(test_http_query_range_matrix)
{
	struct reply r;
	json_t *root, *data, *res;

	get("/api/v1/query_range?query=up%7Bjob%3D%22api%22%7D&start=1000&end=1020&step=10", &r);
	data = success_data(&r, &root);
	ck_assert_str_eq(json_string_value(json_object_get(data, "resultType")), "matrix");
	res = json_object_get(data, "result");
	ck_assert_uint_eq(json_array_size(res), 1);
	ck_assert_msg(strstr(vg_buf_cstr(&r.body),
			     "\"values\":[[1000,\"1\"],[1010,\"0.25\"],[1020,\"0.25\"]]") != NULL,
		      "%s", vg_buf_cstr(&r.body));
	json_decref(root);
	reply_release(&r);

	/* RFC 3339 times and a duration step. */
	get("/api/v1/query_range?query=node_x&start=1970-01-01T00:16:40Z"
	    "&end=1970-01-01T00:16:41.5Z&step=500ms", &r);
	data = success_data(&r, &root);
	ck_assert_msg(strstr(vg_buf_cstr(&r.body), "[1001.500,\"123456.5\"]]") != NULL, "%s",
		      vg_buf_cstr(&r.body));
	ck_assert_uint_eq(json_array_size(json_object_get(
		json_array_get(json_object_get(data, "result"), 0), "values")), 4);
	json_decref(root);
	reply_release(&r);

	get("/api/v1/query_range?query=nosuch&start=0&end=10&step=1", &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body),
			 "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}");
	reply_release(&r);
}
END_TEST

START_TEST(test_http_query_post_form_body_wins_over_url)
{
	static const char body[] = "query=up%7Bjob%3D%22db%22%7D&time=1000";
	struct reply r;
	json_t *root, *data, *res;

	request("POST", "/api/v1/query?query=up", body, strlen(body), &r);
	data = success_data(&r, &root);
	res = json_object_get(data, "result");
	ck_assert_uint_eq(json_array_size(res), 1);
	ck_assert_str_eq(json_string_value(json_object_get(
		json_object_get(json_array_get(res, 0), "metric"), "job")), "db");
	json_decref(root);
	reply_release(&r);

	/* '+' is a space in a form. */
	request("POST", "/api/v1/query_range", "query=up+&start=1000&end=1000&step=1",
		strlen("query=up+&start=1000&end=1000&step=1"), &r);
	data = success_data(&r, &root);
	ck_assert_uint_eq(json_array_size(json_object_get(data, "result")), 2);
	json_decref(root);
	reply_release(&r);
}
END_TEST

/* --- metadata ----------------------------------------------------------------- */

START_TEST(test_http_series_dedup_and_errors)
{
	struct reply r;
	json_t *root, *data;

	get("/api/v1/series?match[]=up%7Bjob%3D%22api%22%7D&match%5B%5D=up%7Binstance%3D%22a%22%7D",
	    &r);
	data = success_data(&r, &root);
	ck_assert_uint_eq(json_array_size(data), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(data, 0), "instance")), "a");
	ck_assert_msg(strstr(vg_buf_cstr(&r.body),
			     "[{\"__name__\":\"up\",\"instance\":\"a\",\"job\":\"api\"}]") != NULL,
		      "%s", vg_buf_cstr(&r.body));
	json_decref(root);
	reply_release(&r);

	/* Time filter: nothing of up{job="api"} after 1010 s. */
	get("/api/v1/series?match[]=up&start=1005&end=2000", &r);
	data = success_data(&r, &root);
	ck_assert_uint_eq(json_array_size(data), 1);
	json_decref(root);
	reply_release(&r);

	/* limit truncates, with a warning. */
	get("/api/v1/series?match[]=%7B__name__%3D~%22.%2B%22%7D&limit=2", &r);
	data = success_data(&r, &root);
	ck_assert_uint_eq(json_array_size(data), 2);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(root, "warnings"), 0)),
			 "results truncated due to limit");
	json_decref(root);
	reply_release(&r);

	check_bad("/api/v1/series", "no match[] parameter provided");
	check_bad("/api/v1/series?match[]=%7Bjob%3D~%22.*%22%7D", "invalid parameter \"match[]\": ");
	check_bad("/api/v1/series?match[]=up&limit=x",
		  "invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax");
	check_bad("/api/v1/series?match[]=up&start=yesterday",
		  "invalid parameter \"start\": invalid time value for 'start': cannot parse \"yesterday\" to a valid timestamp");
}
END_TEST

START_TEST(test_http_labels_and_values)
{
	struct reply r;

	get("/api/v1/labels", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(vg_buf_cstr(&r.body),
			 "{\"status\":\"success\",\"data\":[\"__name__\",\"instance\",\"job\",\"mode\"]}");
	reply_release(&r);
	request("POST", "/api/v1/labels", "match[]=node_x", strlen("match[]=node_x"), &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body), "{\"status\":\"success\",\"data\":[\"__name__\",\"mode\"]}");
	reply_release(&r);
	get("/api/v1/label/__name__/values", &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body), "{\"status\":\"success\",\"data\":[\"node_x\",\"up\"]}");
	reply_release(&r);
	get("/api/v1/label/job/values?match[]=up%7Binstance%3D%22c%22%7D", &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body), "{\"status\":\"success\",\"data\":[\"db\"]}");
	reply_release(&r);
	/* Percent-encoded and U__-escaped names. */
	get("/api/v1/label/%5F%5Fname%5F%5F/values", &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body), "{\"status\":\"success\",\"data\":[\"node_x\",\"up\"]}");
	reply_release(&r);
	get("/api/v1/label/U__j_6f_b/values", &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body), "{\"status\":\"success\",\"data\":[\"api\",\"db\"]}");
	reply_release(&r);
	get("/api/v1/label/nosuch/values", &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body), "{\"status\":\"success\",\"data\":[]}");
	reply_release(&r);
	check_bad("/api/v1/label/%FF/values", "invalid label name: ");
	check_bad("/api/v1/label/a%00b/values", "invalid label name: ");
	check_error("POST", "/api/v1/label/job/values", "", 405, "bad_data", "method not allowed");
}
END_TEST

START_TEST(test_http_buildinfo_has_version_no_features)
{
	struct reply r;
	json_t *root, *data;

	get("/api/v1/status/buildinfo", &r);
	data = success_data(&r, &root);
	ck_assert_str_eq(json_string_value(json_object_get(data, "version")), PACKAGE_VERSION);
	ck_assert_ptr_nonnull(json_object_get(data, "revision"));
	ck_assert_ptr_nonnull(json_object_get(data, "goVersion"));
	ck_assert_ptr_null(json_object_get(data, "features"));
	json_decref(root);
	reply_release(&r);
}
END_TEST

START_TEST(test_http_metadata_and_exemplars_are_empty)
{
	struct reply r;
	json_t *root, *data;

	get("/api/v1/metadata", &r);
	data = success_data(&r, &root);
	ck_assert(json_is_object(data));
	ck_assert_uint_eq(json_object_size(data), 0);
	json_decref(root);
	reply_release(&r);
	get("/api/v1/query_exemplars?query=test&start=1&end=2", &r);
	data = success_data(&r, &root);
	ck_assert(json_is_array(data));
	ck_assert_uint_eq(json_array_size(data), 0);
	json_decref(root);
	reply_release(&r);
	/* as Prometheus: the query is parsed, its error unprefixed */
	check_bad("/api/v1/query_exemplars", "1:1: parse error: no expression found in input");
	check_bad("/api/v1/query_exemplars?query=", "1:1: parse error: no expression found in input");
	check_bad("/api/v1/query_exemplars?query=up(", "1:4: parse error: unclosed left parenthesis");
	check_bad("/api/v1/query_exemplars?query=up&start=2&end=1",
		  "end timestamp must not be before start timestamp");
	check_error("POST", "/api/v1/query_exemplars", "start=1", 400, "bad_data",
		    "1:1: parse error: no expression found in input");
}
END_TEST

START_TEST(test_http_metrics_text_format)
{
	struct reply r;
	const char *b;

	get("/api/v1/labels", &r); /* one request counted before */
	reply_release(&r);
	get("/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(header(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
	b = vg_buf_cstr(&r.body);
	ck_assert_ptr_nonnull(strstr(b, "# TYPE vigil_receiver_http_requests_total counter\n"
					"vigil_receiver_http_requests_total 2\n"));
	ck_assert_ptr_nonnull(strstr(b, "# TYPE vigil_receiver_head_series gauge\n"
					"vigil_receiver_head_series 3\n"));
	ck_assert_ptr_nonnull(strstr(b, "vigil_receiver_head_samples 4\n"));
	ck_assert_ptr_nonnull(strstr(b, "vigil_receiver_frames_received_total{type=\"samples\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(b, "# HELP vigil_receiver_connections_open "));
	ck_assert_ptr_nonnull(strstr(b, "\nprocess_resident_memory_bytes "));
	ck_assert_ptr_nonnull(strstr(b, "\nprocess_cpu_seconds_total "));
	ck_assert(b[r.body.len - 1] == '\n');
	reply_release(&r);
}
END_TEST

/* --- errors ---------------------------------------------------------------------- */

START_TEST(test_http_query_errors_match_prometheus)
{
	check_bad("/api/v1/query?query=up%7B", "invalid parameter \"query\": ");
	check_bad("/api/v1/query", "invalid parameter \"query\": ");
	check_bad("/api/v1/query?query=up&time=abc",
		  "invalid parameter \"time\": invalid time value for 'time': cannot parse \"abc\" to a valid timestamp");
	check_bad("/api/v1/query?query=up&timeout=fast",
		  "invalid parameter \"timeout\": cannot parse \"fast\" to a valid duration");
	check_bad("/api/v1/query?query=up&limit=-1", "invalid parameter \"limit\": limit must be non-negative");
}
END_TEST

START_TEST(test_http_query_range_errors_match_prometheus)
{
	check_bad("/api/v1/query_range?query=up&end=10&step=1",
		  "invalid parameter \"start\": cannot parse \"\" to a valid timestamp");
	check_bad("/api/v1/query_range?query=up&start=x&end=10&step=1",
		  "invalid parameter \"start\": cannot parse \"x\" to a valid timestamp");
	check_bad("/api/v1/query_range?query=up&start=10&end=9&step=1",
		  "invalid parameter \"end\": end timestamp must not be before start time");
	check_bad("/api/v1/query_range?query=up&start=0&end=10",
		  "invalid parameter \"step\": cannot parse \"\" to a valid duration");
	check_bad("/api/v1/query_range?query=up&start=0&end=10&step=0",
		  "invalid parameter \"step\": zero or negative query resolution step widths are "
		  "not accepted. Try a positive integer");
	check_bad("/api/v1/query_range?query=up&start=0&end=10&step=-1",
		  "invalid parameter \"step\": zero or negative");
	check_bad("/api/v1/query_range?query=up&start=0&end=11001&step=1",
		  "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
		  "query resolution (?step=XX)");
	/* Range checks come before the query is parsed, as in Prometheus. */
	check_bad("/api/v1/query_range?query=up%7B&start=10&end=9&step=1", "invalid parameter \"end\"");
	check_bad("/api/v1/query_range?query=up%7B&start=0&end=10&step=1", "invalid parameter \"query\"");
}
END_TEST

START_TEST(test_http_unknown_paths)
{
	check_error("GET", "/api/v1/nosuch", NULL, 404, "not_found", "unknown API endpoint");
	check_error("GET", "/api/v1/label/job", NULL, 404, "not_found", "unknown API endpoint");
	check_error("GET", "/nosuch", NULL, 404, "not_found", "unknown path");
	check_error("POST", "/api/v1/status/buildinfo", "", 405, "bad_data", "method not allowed");
}
END_TEST

static void check_still_serving(void);

/* OPTIONS with an Origin, as a browser sends it (request() sends none);
 * returns the status. */
static long options_with_origin(const char *path, const char *origin, struct reply *r)
{
	struct vg_buf o = VG_BUF_INIT;

	vg_buf_printf(&o, "Origin: %s", origin);
	request_with("OPTIONS", path, vg_buf_cstr(&o), NULL, 0, r);
	vg_buf_release(&o);
	return r->status;
}

START_TEST(test_http_options_preflight)
{
	struct reply r;

	/* As Prometheus: CORS headers only for a request with an Origin. */
	ck_assert_int_eq(options_with_origin("/api/v1/query", "http://grafana.example", &r), 200);
	ck_assert_str_eq(header(&r, "Access-Control-Allow-Origin"), "*");
	ck_assert_str_eq(header(&r, "Access-Control-Allow-Methods"), "GET, POST, OPTIONS");
	ck_assert_str_eq(header(&r, "Vary"), "Origin");
	reply_release(&r);
	request("OPTIONS", "/api/v1/query", NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(header(&r, "Access-Control-Allow-Origin"));
	reply_release(&r);
	ck_assert_int_eq(options_with_origin("/api/v1/label/job/values", "http://g", &r), 200);
	reply_release(&r);
	/* Only on real paths. */
	ck_assert_int_eq(options_with_origin("/nosuch", "http://g", &r), 404);
	ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
	reply_release(&r);
	ck_assert_int_eq(options_with_origin("/api/v1/nosuch", "http://g", &r), 404);
	reply_release(&r);
}
END_TEST

START_TEST(test_http_health_and_ready)
{
	struct reply r;

	get("/-/healthy", &r);
	ck_assert_int_eq(r.status, 200);
	reply_release(&r);
	/* Not yet said ready (the WAL replay): 503 in the JSON shape. */
	check_error("GET", "/-/ready", NULL, 503, "unavailable", "not ready");
	vg_http_api_set_ready(api);
	get("/-/ready", &r);
	ck_assert_int_eq(r.status, 200);
	reply_release(&r);
}
END_TEST

/* --- errors evhttp would answer in HTML, over a raw socket ------------------ */

struct raw_reply {
	int status;
	char headers[8192];
	struct vg_buf body;
};

/* Sends req (len bytes; then, when trailer_bytes, that many more 'a's
 * as a body that keeps coming) and reads the reply until the server
 * closes or a whole Content-Length body has come (5 s at most). */
static void raw_request_ex(const void *req, size_t len, size_t trailer_bytes, bool until_close,
			   struct raw_reply *out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct vg_buf in = VG_BUF_INIT;
	char chunk[16384];
	int fd;

	memset(out, 0, sizeof(*out));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	memset(chunk, 'a', sizeof(chunk));
	while (trailer_bytes > 0) {
		size_t k = trailer_bytes < sizeof(chunk) ? trailer_bytes : sizeof(chunk);
		struct pollfd p = { fd, POLLOUT | POLLIN, 0 };
		if (poll(&p, 1, 2000) <= 0 || (p.revents & POLLIN))
			break; /* the answer came first, as it should */
		if (send(fd, chunk, k, MSG_NOSIGNAL | MSG_DONTWAIT) <= 0)
			break;
		trailer_bytes -= k;
	}
	vg_t_http_read_reply(fd, 5000, until_close, &in);
	close(fd);
	ck_assert_msg(in.len > 12 && strncmp(vg_buf_cstr(&in), "HTTP/1.", 7) == 0, "no reply: \"%.200s\"",
		      vg_buf_cstr(&in));
	out->status = (int)strtol(vg_buf_cstr(&in) + 9, NULL, 10);
	{
		const char *end = strstr(vg_buf_cstr(&in), "\r\n\r\n");
		ck_assert_ptr_nonnull(end);
		snprintf(out->headers, sizeof(out->headers), "%.*s", (int)(end - vg_buf_cstr(&in) + 2),
			 vg_buf_cstr(&in));
		vg_buf_append(&out->body, end + 4, in.len - (size_t)(end + 4 - vg_buf_cstr(&in)));
	}
	vg_buf_release(&in);
}

static void raw_request(const void *req, size_t len, size_t trailer_bytes, struct raw_reply *out)
{
	raw_request_ex(req, len, trailer_bytes, false, out);
}

static bool raw_has_header(const struct raw_reply *r, const char *line)
{
	return strcasestr(r->headers, line) != NULL;
}

/* One refusal: its status, the JSON envelope, and the API's headers. */
static void check_raw_error(const char *what, const void *req, size_t len, size_t trailer, int status)
{
	struct raw_reply r;
	json_error_t e;
	json_t *j;

	raw_request(req, len, trailer, &r);
	ck_assert_msg(r.status == status, "%s: status %d, wanted %d: %s", what, r.status, status,
		      vg_buf_cstr(&r.body));
	ck_assert_msg(raw_has_header(&r, "\r\nContent-Type: application/json\r\n"), "%s: %s", what, r.headers);
	/* A request line too long to end holds no Origin to answer. */
	if (status != 414) {
		ck_assert_msg(raw_has_header(&r, "\r\nAccess-Control-Allow-Origin: *\r\n"), "%s: %s", what, r.headers);
		ck_assert_msg(raw_has_header(&r, "\r\nVary: Origin\r\n"), "%s: %s", what, r.headers);
	}
	j = json_loadb((const char *)r.body.data, r.body.len, 0, &e);
	ck_assert_msg(j != NULL, "%s: not JSON: %s", what, vg_buf_cstr(&r.body));
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "error");
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "errorType")));
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "error")));
	json_decref(j);
	vg_buf_release(&r.body);
}

#define ORIGIN "Origin: http://o.example\r\n"

START_TEST(test_http_every_error_is_json)
{
	static const struct {
		const char *what, *req;
		int status;
	} cases[] = {
		{ "PUT", "PUT /api/v1/query HTTP/1.1\r\nHost: x\r\n" ORIGIN "\r\n", 405 },
		{ "DELETE", "DELETE /api/v1/series HTTP/1.1\r\nHost: x\r\n" ORIGIN "\r\n", 405 },
		{ "TRACE", "TRACE / HTTP/1.1\r\nHost: x\r\n" ORIGIN "\r\n", 405 },
		{ "PATCH", "PATCH /api/v1/query HTTP/1.1\r\n" ORIGIN "Content-Length: 0\r\n\r\n", 405 },
		{ "unknown method", "BREW /pot HTTP/1.1\r\n" ORIGIN "\r\n", 405 },
		{ "garbage", "\x01\x02 hello\r\n" ORIGIN "\r\n", 400 },
		{ "no version", "GET /api/v1/query\r\n" ORIGIN "\r\n", 400 },
		{ "HTTP/2.0", "GET /api/v1/query HTTP/2.0\r\n" ORIGIN "\r\n", 505 },
		{ "lower-case version", "GET /api/v1/query http/1.1\r\n" ORIGIN "\r\n", 400 },
		{ "header without colon", "GET / HTTP/1.1\r\nnocolon\r\n" ORIGIN "\r\n", 400 },
		{ "folded header", "GET / HTTP/1.1\r\n" ORIGIN "X-A: 1\r\n  2\r\n\r\n", 400 },
		{ "CL and TE", "POST /api/v1/query HTTP/1.1\r\n" ORIGIN "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
		{ "two CL", "POST /api/v1/query HTTP/1.1\r\n" ORIGIN "Content-Length: 3\r\nContent-Length: 4\r\n\r\n", 400 },
		{ "bad CL", "POST /api/v1/query HTTP/1.1\r\n" ORIGIN "Content-Length: -3\r\n\r\n", 400 },
		{ "TE gzip", "POST /api/v1/query HTTP/1.1\r\n" ORIGIN "Transfer-Encoding: gzip\r\n\r\n", 501 },
		{ "chunked query", "POST /api/v1/query HTTP/1.1\r\n" ORIGIN "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411 },
		{ "Expect", "POST /api/v1/query HTTP/1.1\r\n" ORIGIN "Expect: tea\r\nContent-Length: 1\r\n\r\n", 417 },
		{ "unknown path", "GET /nosuch HTTP/1.1\r\n" ORIGIN "\r\n", 404 },
		{ "unknown API path", "GET /api/v1/nosuch HTTP/1.1\r\n" ORIGIN "\r\n", 404 },
		{ "405 of a route", "POST /api/v1/status/buildinfo HTTP/1.1\r\n" ORIGIN "Content-Length: 0\r\n\r\n", 405 },
		{ "400 of a handler", "GET /api/v1/query HTTP/1.1\r\n" ORIGIN "\r\n", 400 },
		{ "import not POST", "GET /api/v1/import/prometheus HTTP/1.1\r\n" ORIGIN "\r\n", 405 },
		{ "import HTTP/1.0 no length", "POST /api/v1/import/prometheus HTTP/1.0\r\n" ORIGIN "\r\n", 503 },
	};
	struct vg_buf req = VG_BUF_INIT;
	uint64_t refused = atomic_load(&stats.http_refused);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_raw_error(cases[i].what, cases[i].req, strlen(cases[i].req), 0, cases[i].status);
	{
		static const char nul[] = "GET /a\0b HTTP/1.1\r\n" ORIGIN "\r\n";
		check_raw_error("NUL in target", nul, sizeof(nul) - 1, 0, 400);
	}
	{
		/* To evhttp a line that starts with NUL ends the head. */
		static const char nul[] = "GET /a HTTP/1.1\r\n" ORIGIN "\0:\r\nHEAD /b: HTTP/1.1\r\n\r\n";
		check_raw_error("NUL in a header line", nul, sizeof(nul) - 1, 0, 400);
	}
	ck_assert_uint_ge(atomic_load(&stats.http_refused), refused + 15);

	/* A request line past the header limit (64 KiB): 414. */
	vg_buf_puts(&req, "GET /api/v1/query?query=");
	for (int i = 0; i < 70000; i++)
		vg_buf_putc(&req, 'a');
	vg_buf_puts(&req, " HTTP/1.1\r\n" ORIGIN "\r\n");
	check_raw_error("long URI", req.data, req.len, 0, 414);
	vg_buf_reset(&req);

	/* Headers past it: 431. */
	vg_buf_puts(&req, "GET /api/v1/labels HTTP/1.1\r\n" ORIGIN);
	for (int i = 0; i < 80; i++) {
		vg_buf_printf(&req, "X-Long-%d: ", i);
		for (int k = 0; k < 1000; k++)
			vg_buf_putc(&req, 'b');
		vg_buf_puts(&req, "\r\n");
	}
	vg_buf_puts(&req, "\r\n");
	check_raw_error("long headers", req.data, req.len, 0, 431);
	vg_buf_reset(&req);

	/* More than 100 fields: 431. */
	vg_buf_puts(&req, "GET /api/v1/labels HTTP/1.1\r\n" ORIGIN);
	for (int i = 0; i < 101; i++)
		vg_buf_printf(&req, "X-%d: 1\r\n", i);
	vg_buf_puts(&req, "\r\n");
	check_raw_error("many headers", req.data, req.len, 0, 431);
	vg_buf_reset(&req);

	/* A body past 1 MiB: 413 before the body is read, while it comes. */
	vg_buf_puts(&req, "POST /api/v1/query HTTP/1.1\r\n" ORIGIN
			  "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 2097152\r\n\r\nquery=");
	check_raw_error("body too large", req.data, req.len, 2 * 1024 * 1024 - 6, 413);
	vg_buf_release(&req);
	check_still_serving();
}
END_TEST

/* A HEAD to target, answered as its GET (headers, Content-Length) with
 * no body: read until the server closes, so a body sent would show. */
static void head_request(const char *target, struct raw_reply *r)
{
	struct vg_buf req = VG_BUF_INIT;

	vg_buf_printf(&req, "HEAD %s HTTP/1.1\r\nHost: x\r\n" ORIGIN "Connection: close\r\n\r\n", target);
	ck_assert(!vg_buf_failed(&req));
	raw_request_ex(req.data, req.len, 0, true, r);
	vg_buf_release(&req);
	ck_assert_msg(r->body.len == 0, "HEAD %s: a body: %s", target, vg_buf_cstr(&r->body));
	ck_assert_msg(raw_has_header(r, "\r\nAccess-Control-Allow-Origin: *\r\n"), "%s", r->headers);
}

/* Content-Length of a raw reply, or -1. */
static long raw_content_length(const struct raw_reply *r)
{
	const char *p = strcasestr(r->headers, "\r\nContent-Length:");

	return p ? strtol(p + strlen("\r\nContent-Length:"), NULL, 10) : -1;
}

START_TEST(test_http_head_request_has_no_body)
{
	static const char *const targets[] = {
		"/-/healthy", "/api/v1/status/buildinfo", "/api/v1/labels",
		"/api/v1/query?query=1%2B1&time=4", /* answered from a query worker */
	};
	struct raw_reply r;
	struct reply g;

	/* As the GET: status, type and length, no body (load balancers
	 * probe /-/healthy with HEAD; Prometheus answers it). */
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		head_request(targets[i], &r);
		get(targets[i], &g);
		ck_assert_msg(r.status == 200 && g.status == 200, "HEAD %s: %d", targets[i], r.status);
		ck_assert_msg(raw_content_length(&r) == (long)g.body.len, "HEAD %s: %s", targets[i], r.headers);
		{
			char line[256];
			snprintf(line, sizeof(line), "\r\nContent-Type: %s\r\n", header(&g, "Content-Type"));
			ck_assert_msg(raw_has_header(&r, line), "HEAD %s: %s", targets[i], r.headers);
		}
		reply_release(&g);
		vg_buf_release(&r.body);
	}
	/* An error: its status and headers. */
	head_request("/api/v1/query", &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert(raw_content_length(&r) > 0);
	vg_buf_release(&r.body);
	/* A HEAD where GET is not taken: 405, Allow as for the GET. */
	head_request("/api/v1/admin/seal", &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_msg(raw_has_header(&r, "\r\nAllow: POST, PUT, OPTIONS\r\n"), "%s", r.headers);
	vg_buf_release(&r.body);
	check_still_serving();
}
END_TEST

START_TEST(test_http_pipelined_refusal_follows_earlier_answer)
{
	/* A good request, then a refused one on the same connection: the
	 * refusal comes second, after the first answer, then the close. */
	static const char req[] = "GET /api/v1/labels HTTP/1.1\r\n\r\nBREW /x HTTP/1.1\r\n\r\n";
	struct raw_reply r;
	const char *second;

	raw_request_ex(req, sizeof(req) - 1, 0, true, &r);
	ck_assert_int_eq(r.status, 200);
	second = strstr(vg_buf_cstr(&r.body), "HTTP/1.1 405 ");
	ck_assert_msg(second != NULL, "%s", vg_buf_cstr(&r.body));
	ck_assert_ptr_nonnull(strstr(second, "\"status\":\"error\""));
	vg_buf_release(&r.body);
	check_still_serving();
}
END_TEST


/* The server answers one more ordinary request correctly. */
static void check_still_serving(void)
{
	struct reply r;
	json_t *root, *data;

	get("/api/v1/query?query=up&time=1000", &r);
	data = success_data(&r, &root);
	ck_assert_uint_eq(json_array_size(json_object_get(data, "result")), 2);
	json_decref(root);
	reply_release(&r);
}

START_TEST(test_http_oversize_body_refused)
{
	size_t n = 2 * 1024 * 1024;
	char *body = malloc(n);
	struct reply r;

	memcpy(body, "query=", 6);
	memset(body + 6, 'a', n - 6);
	request("POST", "/api/v1/query", body, n, &r);
	ck_assert_int_eq(r.status, 413);
	reply_release(&r);
	free(body);
	check_still_serving();
}
END_TEST

START_TEST(test_http_hostile_query_strings)
{
	struct reply r;
	struct vg_buf url = VG_BUF_INIT;
	char *big;

	check_bad("/api/v1/query?query=up%zz", "error parsing form values: invalid URL escape \"%zz\"");
	check_bad("/api/v1/query?query=up%2", "error parsing form values: invalid URL escape \"%2\"");
	check_bad("/api/v1/query?query=up&time=1%00abc", "error parsing form values: NUL byte");
	check_bad("/api/v1/query?query=up%00", "error parsing form values: NUL byte");
	check_bad("/api/v1/query?qu%00ery=up", "error parsing form values: NUL byte");
	check_bad("/api/v1/series?match[]=%7B%7D", "invalid parameter \"match[]\"");
	check_bad("/api/v1/query?query=%22%5C", "invalid parameter \"query\"");
	check_still_serving();

	/* A query past the selector's 64 KiB limit, in a form body. */
	big = malloc(70000);
	memcpy(big, "query=", 6);
	memset(big + 6, 'a', 70000 - 7);
	big[70000 - 1] = '\0';
	check_error("POST", "/api/v1/query", big, 400, "bad_data", "invalid parameter \"query\"");
	free(big);

	/* A request line past the header limit. */
	vg_buf_puts(&url, "/api/v1/query?query=");
	for (int i = 0; i < 300000; i++)
		vg_buf_putc(&url, 'a');
	get(vg_buf_cstr(&url), &r);
	ck_assert_int_ge(r.status, 400);
	ck_assert_int_lt(r.status, 500);
	reply_release(&r);
	vg_buf_release(&url);

	/* Many parameters. */
	for (int i = 0; i < 10001; i++)
		vg_buf_puts(&url, "a=1&");
	check_error("POST", "/api/v1/query", vg_buf_cstr(&url), 400, "bad_data",
		    "error parsing form values: more than 10000 parameters");
	vg_buf_release(&url);
	check_still_serving();
}
END_TEST

START_TEST(test_http_requests_are_counted)
{
	struct reply r;
	uint64_t before = atomic_load(&stats.http_requests);

	get("/api/v1/labels", &r);
	reply_release(&r);
	get("/nosuch", &r);
	reply_release(&r);
	ck_assert_uint_eq(atomic_load(&stats.http_requests), before + 2);
}
END_TEST

START_TEST(test_http_start_fails_on_port_in_use)
{
	struct vg_http_api_options o = { .host = "127.0.0.1", .port = port, .lookback_ms = 300000,
					 .head = head, .storage = storage, .stats = &stats };
	struct vg_http_api *second = NULL;
	struct vg_err err;

	ck_assert_int_eq(vg_http_api_start(&o, &second, &err), VG_EIO);
	ck_assert_ptr_null(second);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot listen"));
	check_still_serving();
}
END_TEST

/* PromQL through the evaluator: the scalar Grafana's health check asks for,
 * a string, an expression's vector, a range of an expression, and an
 * evaluation error as Prometheus reports it (422 execution). */
START_TEST(test_http_query_promql_shapes)
{
	struct reply r;

	get("/api/v1/query?query=1%2B1&time=4", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(vg_buf_cstr(&r.body),
			 "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}}");
	reply_release(&r);
	/* A string's and a scalar's time as Prometheus writes it (encoding/json
	 * of the seconds), a scalar's value in fixed form however small. */
	get("/api/v1/query?query=%22hi%22&time=1.5", &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body),
			 "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[1.5,\"hi\"]}}");
	reply_release(&r);
	get("/api/v1/query?query=1e-7&time=1.05", &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body),
			 "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1.05,\"0.0000001\"]}}");
	reply_release(&r);
	get("/api/v1/query?query=sum%20by%20(job)%20(up)%20*%202&time=1010", &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body),
			 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
			 "{\"metric\":{\"job\":\"api\"},\"value\":[1010,\"0.5\"]},"
			 "{\"metric\":{\"job\":\"db\"},\"value\":[1010,\"2e-07\"]}]}}");
	reply_release(&r);
	get("/api/v1/query_range?query=up%7Binstance%3D%22a%22%7D%20%3E%200.5&start=1000&end=1010&step=5", &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body),
			 "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
			 "{\"metric\":{\"__name__\":\"up\",\"instance\":\"a\",\"job\":\"api\"},"
			 "\"values\":[[1000,\"1\"],[1005,\"1\"]]}]}}");
	reply_release(&r);
	check_error("GET", "/api/v1/query?query=up%20%2B%20on()%20up&time=1010", NULL, 422, "execution",
		    "found duplicate series for the match group {} on the right hand-side of the operation");
	/* Two label sets made one inside the expression, in an instant and
	 * in a range query. */
	check_error("GET",
		    "/api/v1/query?query=count(label_replace(label_replace(up,%22job%22,%22%22,%22%22,%22%22),"
		    "%22instance%22,%22%22,%22%22,%22%22))&time=1000",
		    NULL, 422, "execution", "vector cannot contain metrics with the same labelset");
	check_error("GET",
		    "/api/v1/query_range?query=count(label_replace(label_replace(up,%22job%22,%22%22,%22%22,%22%22),"
		    "%22instance%22,%22%22,%22%22,%22%22))&start=1000&end=1010&step=5",
		    NULL, 422, "execution", "vector cannot contain metrics with the same labelset");
	check_bad("/api/v1/query_range?query=up%5B5m%5D&start=0&end=10&step=1",
		  "invalid expression type \"range vector\" for range query");
	check_bad("/api/v1/query?query=sum(up", "invalid parameter \"query\": 1:7: parse error: ");
	get("/api/v1/format_query?query=sum(rate(x%7Bb%3D%221%22,a%3D~%222%22%7D%5B90m%5D))by(job)", &r);
	ck_assert_str_eq(vg_buf_cstr(&r.body),
			 "{\"status\":\"success\",\"data\":\"sum by (job) (rate(x{a=~\\\"2\\\",b=\\\"1\\\"}[1h30m]))\"}");
	reply_release(&r);
	check_bad("/api/v1/format_query?query=1%20%2B", "invalid parameter \"query\": 1:4: parse error: ");
}
END_TEST

/* --- the interfaces file, field by field -------------------------------------- */

/* root has exactly the keys in keys (NULL-terminated). */
static void exact_keys(json_t *root, const char *what, const char *const *keys)
{
	size_t n = 0;

	ck_assert_msg(json_is_object(root), "%s: not an object", what);
	for (; keys[n] != NULL; n++)
		ck_assert_msg(json_object_get(root, keys[n]) != NULL, "%s: no \"%s\"", what, keys[n]);
	ck_assert_msg(json_object_size(root) == n, "%s: %zu keys, not %zu", what, json_object_size(root), n);
}

static json_t *get_json(const char *path, long status)
{
	struct reply r;
	json_t *j;

	get(path, &r);
	ck_assert_msg(r.status == status, "%s: HTTP %ld: %s", path, r.status, vg_buf_cstr(&r.body));
	ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
	j = parse(&r);
	reply_release(&r);
	return j;
}

/* The envelope of every success, {status, data}, and of every error,
 * {status, errorType, error}; data's type per endpoint. */
START_TEST(test_http_api_envelopes_as_the_interfaces_file)
{
	static const char *const ok_keys[] = { "status", "data", NULL };
	static const char *const err_keys[] = { "status", "errorType", "error", NULL };
	static const char *const result_keys[] = { "resultType", "result", NULL };
	static const char *const build_keys[] = { "version", "revision", "branch", "buildUser", "buildDate",
						  "goVersion", NULL };
	static const struct {
		const char *path;
		json_type type;
	} oks[] = {
		{ "/api/v1/query?query=up&time=1010", JSON_OBJECT },
		{ "/api/v1/query?query=up%5B1m%5D&time=1010", JSON_OBJECT },
		{ "/api/v1/query?query=1&time=1010", JSON_OBJECT },
		{ "/api/v1/query?query=%22s%22&time=1010", JSON_OBJECT },
		{ "/api/v1/query_range?query=up&start=1000&end=1010&step=5", JSON_OBJECT },
		{ "/api/v1/series?match[]=up", JSON_ARRAY },
		{ "/api/v1/labels", JSON_ARRAY },
		{ "/api/v1/label/job/values", JSON_ARRAY },
		{ "/api/v1/metadata", JSON_OBJECT },
		{ "/api/v1/query_exemplars?query=up&start=1&end=2", JSON_ARRAY },
		{ "/api/v1/status/buildinfo", JSON_OBJECT },
		{ "/api/v1/format_query?query=up", JSON_STRING },
	};
	static const char *const types[] = { "vector", "matrix", "scalar", "string", "matrix" };
	static const struct {
		const char *path;
		long status;
		const char *type;
	} errs[] = {
		{ "/api/v1/query", 400, "bad_data" },
		{ "/api/v1/query?query=up%20%2B%20on()%20up&time=1010", 422, "execution" },
		{ "/api/v1/series", 400, "bad_data" },
		{ "/api/v1/labels?start=x", 400, "bad_data" },
		{ "/api/v1/metadata?limit=x", 400, "bad_data" },
		{ "/api/v1/nosuch", 404, "not_found" },
	};

	for (size_t i = 0; i < sizeof(oks) / sizeof(oks[0]); i++) {
		json_t *j = get_json(oks[i].path, 200), *d = json_object_get(j, "data");

		exact_keys(j, oks[i].path, ok_keys);
		ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "success");
		ck_assert_msg(json_typeof(d) == oks[i].type, "%s: data of type %d", oks[i].path, json_typeof(d));
		if (i < 5) {
			exact_keys(d, oks[i].path, result_keys);
			ck_assert_str_eq(json_string_value(json_object_get(d, "resultType")), types[i]);
		}
		if (json_is_array(d) && json_array_size(d) > 0 && i < 10 && i != 5) {
			/* labels and values: sorted strings */
			for (size_t k = 1; k < json_array_size(d); k++)
				ck_assert_int_lt(strcmp(json_string_value(json_array_get(d, k - 1)),
							json_string_value(json_array_get(d, k))), 0);
		}
		if (i == 10) {
			const char *k;
			json_t *v;
			exact_keys(d, oks[i].path, build_keys);
			json_object_foreach(d, k, v)
				ck_assert_msg(json_is_string(v), "buildinfo %s is not a string", k);
		}
		json_decref(j);
	}
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		json_t *j = get_json(errs[i].path, errs[i].status);

		exact_keys(j, errs[i].path, err_keys);
		ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "error");
		ck_assert_str_eq(json_string_value(json_object_get(j, "errorType")), errs[i].type);
		json_decref(j);
	}
}
END_TEST

/* stats: Prometheus's shape, real figures, only when asked. */
START_TEST(test_http_api_stats_when_asked)
{
	static const char *const stats_keys[] = { "timings", "samples", NULL };
	static const char *const timing_keys[] = { "evalTotalTime", "resultSortTime", "queryPreparationTime",
						   "innerEvalTime", "execQueueTime", "execTotalTime", NULL };
	static const char *const sample_keys[] = { "totalQueryableSamples", "peakSamples", NULL };
	static const struct {
		const char *path;
		long total;
	} qs[] = {
		{ "/api/v1/query?query=up&time=1010.5&stats=all", 2 },
		{ "/api/v1/query?query=count_over_time(up%5B1h%5D)&time=1010.5&stats=true", 3 },
		{ "/api/v1/query?query=1%2B1&time=1010&stats=1", 0 },
		{ "/api/v1/query_range?query=up&start=1000&end=1020&step=10&stats=all", 6 },
		{ "/api/v1/query_range?query=sum(up)&start=1000&end=1020&step=10&stats=all", 6 },
	};
	const char *k;
	json_t *v;

	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		json_t *j = get_json(qs[i].path, 200), *d = json_object_get(j, "data");
		json_t *st = json_object_get(d, "stats"), *sm;

		ck_assert_msg(st != NULL, "%s: no stats", qs[i].path);
		exact_keys(d, qs[i].path, (const char *const[]){ "resultType", "result", "stats", NULL });
		exact_keys(st, qs[i].path, stats_keys);
		exact_keys(json_object_get(st, "timings"), qs[i].path, timing_keys);
		json_object_foreach(json_object_get(st, "timings"), k, v)
			ck_assert_msg(json_is_number(v) && json_number_value(v) >= 0, "%s: %s", qs[i].path, k);
		sm = json_object_get(st, "samples");
		exact_keys(sm, qs[i].path, sample_keys);
		ck_assert_msg(json_integer_value(json_object_get(sm, "totalQueryableSamples")) == qs[i].total,
			      "%s: totalQueryableSamples %lld, not %ld", qs[i].path,
			      json_integer_value(json_object_get(sm, "totalQueryableSamples")), qs[i].total);
		ck_assert_int_ge(json_integer_value(json_object_get(sm, "peakSamples")),
				 qs[i].total > 0 ? 1 : 0);
		json_decref(j);
	}
	/* Not asked (or asked with an empty value): no stats. */
	{
		json_t *j = get_json("/api/v1/query?query=up&time=1010&stats=", 200);
		ck_assert_ptr_null(json_object_get(json_object_get(j, "data"), "stats"));
		json_decref(j);
		j = get_json("/api/v1/query_range?query=up&start=1000&end=1010&step=5", 200);
		ck_assert_ptr_null(json_object_get(json_object_get(j, "data"), "stats"));
		json_decref(j);
	}
}
END_TEST

/* limit on every endpoint that takes it: truncates, warns, 0 is off. */
START_TEST(test_http_api_limit_everywhere)
{
	static const struct {
		const char *path;
		size_t n;
		bool is_truncated;
	} qs[] = {
		{ "/api/v1/labels?limit=2", 2, true },
		{ "/api/v1/labels?limit=0", 4, false },
		{ "/api/v1/labels?limit=4", 4, false },
		{ "/api/v1/labels?match[]=up&limit=1", 1, true },
		{ "/api/v1/label/__name__/values?limit=1", 1, true },
		{ "/api/v1/label/job/values?match[]=up&limit=5", 2, false },
		{ "/api/v1/series?match[]=up&limit=1", 1, true },
		{ "/api/v1/query?query=up&time=1010&limit=1", 1, true },
		{ "/api/v1/query_range?query=up&start=1000&end=1010&step=5&limit=1", 1, true },
	};

	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		json_t *j = get_json(qs[i].path, 200), *d = json_object_get(j, "data"), *w;

		if (json_is_object(d))
			d = json_object_get(d, "result");
		ck_assert_msg(json_array_size(d) == qs[i].n, "%s: %zu results", qs[i].path, json_array_size(d));
		w = json_object_get(j, "warnings");
		if (qs[i].is_truncated) {
			ck_assert_msg(json_array_size(w) == 1, "%s: no warning", qs[i].path);
			ck_assert_str_eq(json_string_value(json_array_get(w, 0)), "results truncated due to limit");
			exact_keys(j, qs[i].path, (const char *const[]){ "status", "data", "warnings", NULL });
		} else {
			ck_assert_ptr_null(w);
		}
		json_decref(j);
	}
	check_bad("/api/v1/labels?limit=x", "invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax");
	check_bad("/api/v1/label/job/values?limit=-1", "invalid parameter \"limit\": limit must be non-negative");
	check_bad("/api/v1/query?query=up&limit=1.5", "invalid parameter \"limit\": ");
}
END_TEST

/* GET and POST (a form body) where Prometheus takes both, GET only where
 * it takes only GET. */
START_TEST(test_http_api_methods_per_endpoint)
{
	static const struct {
		const char *path, *body;
		size_t n; /* results */
	} posts[] = {
		{ "/api/v1/query", "query=up&time=1010", 2 },
		{ "/api/v1/query_range", "query=up&start=1000&end=1010&step=5", 2 },
		{ "/api/v1/series", "match[]=up&match[]=node_x&start=0&end=2000", 3 },
		{ "/api/v1/labels", "match[]=up&start=1970-01-01T00:00:00Z", 3 },
		{ "/api/v1/query_exemplars", "query=up&start=1&end=2", 0 },
	};
	struct reply r;
	json_t *root, *d;

	for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++) {
		request("POST", posts[i].path, posts[i].body, strlen(posts[i].body), &r);
		d = success_data(&r, &root);
		if (json_is_object(d))
			d = json_object_get(d, "result");
		ck_assert_msg(json_array_size(d) == posts[i].n, "POST %s: %s", posts[i].path,
			      vg_buf_cstr(&r.body));
		json_decref(root);
		reply_release(&r);
	}
	request("POST", "/api/v1/format_query", "query=sum(up)by(job)", strlen("query=sum(up)by(job)"), &r);
	d = success_data(&r, &root);
	ck_assert_str_eq(json_string_value(d), "sum by (job) (up)");
	json_decref(root);
	reply_release(&r);
	check_error("POST", "/api/v1/metadata", "", 405, "bad_data", "method not allowed");
	check_error("POST", "/api/v1/status/buildinfo", "", 405, "bad_data", "method not allowed");
	check_error("POST", "/api/v1/label/job/values", "", 405, "bad_data", "method not allowed");
	request("POST", "/api/v1/metadata", "", 0, &r);
	ck_assert_str_eq(header(&r, "Allow"), "GET, HEAD, OPTIONS");
	reply_release(&r);
}
END_TEST

/* Each route's methods as Prometheus routes them (web/api/v1/api.go):
 * GET and POST where it takes both, PUT beside POST on the admin routes
 * and /-/reload; any other method a 405 whose Allow names what the route
 * takes (HEAD wherever GET is). */
START_TEST(test_http_api_405_allow_per_route)
{
	static const struct {
		const char *method, *path, *allow;
	} cases[] = {
		{ "PUT", "/api/v1/query", "GET, HEAD, POST, OPTIONS" },
		{ "DELETE", "/api/v1/query_range", "GET, HEAD, POST, OPTIONS" },
		{ "PATCH", "/api/v1/series", "GET, HEAD, POST, OPTIONS" },
		{ "PUT", "/api/v1/labels", "GET, HEAD, POST, OPTIONS" },
		{ "PUT", "/api/v1/label/job/values", "GET, HEAD, OPTIONS" },
		{ "DELETE", "/api/v1/metadata", "GET, HEAD, OPTIONS" },
		{ "PUT", "/api/v1/status/buildinfo", "GET, HEAD, OPTIONS" },
		{ "PUT", "/api/v1/rules", "GET, HEAD, POST, OPTIONS" },
		{ "TRACE", "/api/v1/alerts", "GET, HEAD, POST, OPTIONS" },
		{ "GET", "/api/v1/admin/seal", "POST, PUT, OPTIONS" },
		{ "DELETE", "/api/v1/admin/tsdb/delete_series", "POST, PUT, OPTIONS" },
		{ "GET", "/-/reload", "POST, PUT, OPTIONS" },
		{ "PUT", "/api/v1/import/prometheus", "POST, OPTIONS" },
		{ "PUT", "/metrics", "GET, HEAD, OPTIONS" },
		{ "DELETE", "/-/healthy", "GET, HEAD, OPTIONS" },
	};
	struct reply r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		request_with(cases[i].method, cases[i].path, "Origin: http://grafana.example", NULL, 0, &r);
		ck_assert_msg(r.status == 405, "%s %s: %ld %s", cases[i].method, cases[i].path, r.status,
			      vg_buf_cstr(&r.body));
		ck_assert_msg(header(&r, "Allow") && strcmp(header(&r, "Allow"), cases[i].allow) == 0,
			      "%s %s: %s", cases[i].method, cases[i].path, vg_buf_cstr(&r.headers));
		ck_assert_str_eq(header(&r, "Access-Control-Allow-Origin"), "*");
		ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
		reply_release(&r);
	}
	/* PUT reaches the admin handlers, its form body read as a POST's:
	 * this server has no sealer and no reload. */
	request_with("PUT", "/api/v1/admin/seal", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 503);
	reply_release(&r);
	request_with("PUT", "/-/reload", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 503);
	reply_release(&r);
	request_with("PUT", "/api/v1/admin/tsdb/delete_series", "Content-Type: application/x-www-form-urlencoded",
		     "start=10&end=5", strlen("start=10&end=5"), &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&r.body), "no match[] parameter provided"));
	reply_release(&r);
	request_with("PUT", "/api/v1/admin/tsdb/delete_series", "Content-Type: application/x-www-form-urlencoded",
		     "match[]=up&start=10&end=5", strlen("match[]=up&start=10&end=5"), &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&r.body), "end timestamp must not be before start time"));
	reply_release(&r);
}
END_TEST

/* Every time form Prometheus's parseTime takes gives the same instant;
 * every duration form its parseDuration takes, the same step. */
START_TEST(test_http_api_time_and_duration_forms)
{
	static const char *const times[] = {
		"1010.5", "1010.500", "1.0105e3", "+1010.5", "1010.5004", "1010.4996",
		"1970-01-01T00:16:50.5Z", "1970-01-01T00:16:50.500000000Z", "1970-01-01T01:16:50.5+01:00",
		"1969-12-31T23:46:50.5-00:30", "1970-01-01t00:16:50.5z",
	};
	static const char *const steps[] = { "5", "5s", "5000ms", "5.0", "0.5e1", "0m5s" };
	static const char *const bad_steps[] = { "1.5m", "5S", "5 s", "s", "1m1h", "5s5s" };
	static const char *const timeouts[] = { "30s", "1m", "0.5", "1h30m", "2", "1e3", "100ms" };
	char path[256];

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		json_t *j, *res;
		char *e = curl_easy_escape(NULL, times[i], 0);

		snprintf(path, sizeof(path), "/api/v1/query?query=up%%7Binstance%%3D%%22a%%22%%7D&time=%s", e);
		curl_free(e);
		j = get_json(path, 200);
		res = json_array_get(json_object_get(json_object_get(j, "data"), "result"), 0);
		ck_assert_msg(json_number_value(json_array_get(json_object_get(res, "value"), 0)) == 1010.5,
			      "%s: %s", times[i], json_dumps(j, JSON_COMPACT));
		json_decref(j);
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		json_t *j, *vals;

		snprintf(path, sizeof(path), "/api/v1/query_range?query=up%%7Binstance%%3D%%22a%%22%%7D"
			 "&start=1000&end=1010&step=%s", steps[i]);
		j = get_json(path, 200);
		vals = json_object_get(json_array_get(json_object_get(json_object_get(j, "data"), "result"), 0),
				       "values");
		ck_assert_msg(json_array_size(vals) == 3, "step %s: %zu points", steps[i], json_array_size(vals));
		ck_assert(json_number_value(json_array_get(json_array_get(vals, 1), 0)) == 1005);
		json_decref(j);
	}
	for (size_t i = 0; i < sizeof(bad_steps) / sizeof(bad_steps[0]); i++) {
		char *e = curl_easy_escape(NULL, bad_steps[i], 0);
		snprintf(path, sizeof(path), "/api/v1/query_range?query=up&start=1000&end=1010&step=%s", e);
		curl_free(e);
		check_bad(path, "invalid parameter \"step\": cannot parse ");
	}
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		snprintf(path, sizeof(path), "/api/v1/query?query=up&time=1010&timeout=%s", timeouts[i]);
		json_decref(get_json(path, 200));
		snprintf(path, sizeof(path), "/api/v1/query_range?query=up&start=1000&end=1010&step=5&timeout=%s",
			 timeouts[i]);
		json_decref(get_json(path, 200));
	}
	check_bad("/api/v1/query_range?query=up&start=1000&end=1010&step=5&timeout=1.5m",
		  "invalid parameter \"timeout\": cannot parse \"1.5m\" to a valid duration");
	check_bad("/api/v1/query_range?query=up&start=1000&end=1010&step=1e10",
		  "invalid parameter \"step\": cannot parse \"1e10\" to a valid duration. It overflows int64");
	check_bad("/api/v1/query?query=up&time=2015-07-01T20:10:51",
		  "invalid parameter \"time\": invalid time value for 'time': cannot parse ");
	check_bad("/api/v1/labels?end=soon", "invalid parameter \"end\": invalid time value for 'end': cannot parse ");
	/* Prometheus's minimum and maximum times, as its clients write an open
	 * bound: the same answer as no bound; a query at either is answered. */
	{
		static const char *const open_bounds[] = { "/api/v1/labels", "/api/v1/label/job/values",
							   "/api/v1/series?match[]=up" };
		static const char min_max[] = "start=-292273086-05-16T16:47:06Z&end=292277025-08-18T07:12:54.999999999Z";

		for (size_t i = 0; i < sizeof(open_bounds) / sizeof(open_bounds[0]); i++) {
			json_t *all = get_json(open_bounds[i], 200), *j;
			char *a = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS), *b;

			snprintf(path, sizeof(path), "%s%c%s", open_bounds[i], strchr(open_bounds[i], '?') ? '&' : '?',
				 min_max);
			j = get_json(path, 200);
			b = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
			ck_assert_msg(json_array_size(json_object_get(all, "data")) > 0, "%s: %s", open_bounds[i], a);
			ck_assert_msg(strcmp(a, b) == 0, "%s: %s, not %s", path, b, a);
			free(a);
			free(b);
			json_decref(all);
			json_decref(j);
		}
		json_decref(get_json("/api/v1/query?query=up&time=-292273086-05-16T16:47:06Z", 200));
		json_decref(get_json("/api/v1/query?query=up&time=292277025-08-18T07:12:54.999999999Z", 200));
	}
}
END_TEST

/* /api/v1/parse_query: the tree in Prometheus 3's shape (its
 * web/api/v1/translate_ast.go), keys sorted as Go writes maps. */
START_TEST(test_http_api_parse_query_tree)
{
	struct reply r;

	get("/api/v1/parse_query?query=sum%20by%20(job)%20(rate(x%7Ba%3D~%22b.%22%7D%5B5m%5D%20offset%201m))", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(vg_buf_cstr(&r.body),
			 "{\"status\":\"success\",\"data\":{\"expr\":{\"args\":[{\"matchers\":["
			 "{\"name\":\"a\",\"type\":\"=~\",\"value\":\"b.\"},"
			 "{\"name\":\"__name__\",\"type\":\"=\",\"value\":\"x\"}],\"name\":\"x\",\"offset\":60000,"
			 "\"range\":300000,\"startOrEnd\":null,\"timestamp\":null,\"type\":\"matrixSelector\"}],"
			 "\"func\":{\"argTypes\":[\"matrix\"],\"name\":\"rate\",\"returnType\":\"vector\",\"variadic\":0},"
			 "\"type\":\"call\"},\"grouping\":[\"job\"],\"op\":\"sum\",\"param\":null,"
			 "\"type\":\"aggregation\",\"without\":false}}");
	reply_release(&r);
	request("POST", "/api/v1/parse_query", "query=a+%2F+on(b)+group_left(c)+-d+%3E+bool+1e-7",
		strlen("query=a+%2F+on(b)+group_left(c)+-d+%3E+bool+1e-7"), &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(vg_buf_cstr(&r.body),
			 "{\"status\":\"success\",\"data\":{\"bool\":true,\"lhs\":{\"bool\":false,\"lhs\":"
			 "{\"matchers\":[{\"name\":\"__name__\",\"type\":\"=\",\"value\":\"a\"}],\"name\":\"a\","
			 "\"offset\":0,\"startOrEnd\":null,\"timestamp\":null,\"type\":\"vectorSelector\"},"
			 "\"matching\":{\"card\":\"many-to-one\",\"include\":[\"c\"],\"labels\":[\"b\"],\"on\":true},"
			 "\"op\":\"/\",\"rhs\":{\"expr\":{\"matchers\":[{\"name\":\"__name__\",\"type\":\"=\","
			 "\"value\":\"d\"}],\"name\":\"d\",\"offset\":0,\"startOrEnd\":null,\"timestamp\":null,"
			 "\"type\":\"vectorSelector\"},\"op\":\"-\",\"type\":\"unaryExpr\"},\"type\":\"binaryExpr\"},"
			 "\"matching\":null,\"op\":\">\",\"rhs\":{\"type\":\"numberLiteral\",\"val\":\"0.0000001\"},"
			 "\"type\":\"binaryExpr\"}}");
	reply_release(&r);
	get("/api/v1/parse_query?query=max_over_time((vector(time()))%5B1h%3A%5D%20%40%20end())%20or%20vector(-1)", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(vg_buf_cstr(&r.body),
			     "{\"expr\":{\"expr\":{\"args\":[{\"args\":[],\"func\":{\"argTypes\":[],\"name\":\"time\","
			     "\"returnType\":\"scalar\",\"variadic\":0},\"type\":\"call\"}],\"func\":{\"argTypes\":"
			     "[\"scalar\"],\"name\":\"vector\",\"returnType\":\"vector\",\"variadic\":0},"
			     "\"type\":\"call\"},\"type\":\"parenExpr\"},"
			     "\"offset\":0,\"range\":3600000,\"startOrEnd\":\"end\",\"step\":0,\"timestamp\":null,"
			     "\"type\":\"subquery\"}") != NULL, "%s", vg_buf_cstr(&r.body));
	ck_assert_msg(strstr(vg_buf_cstr(&r.body), "{\"type\":\"numberLiteral\",\"val\":\"-1\"}") != NULL, "%s",
		      vg_buf_cstr(&r.body));
	ck_assert_msg(strstr(vg_buf_cstr(&r.body), "\"matching\":{\"card\":\"many-to-many\",\"include\":[],"
						  "\"labels\":[],\"on\":false},\"op\":\"or\"") != NULL,
		      "%s", vg_buf_cstr(&r.body));
	reply_release(&r);
	get("/api/v1/parse_query?query=x%20%40%201.5%20%2B%20%22s%22%20%3D%3D%20bool%201", &r);
	ck_assert_int_eq(r.status, 400);
	reply_release(&r);
	get("/api/v1/parse_query?query=x%20%40%201.5", &r);
	ck_assert_msg(strstr(vg_buf_cstr(&r.body), "\"startOrEnd\":null,\"timestamp\":1500,") != NULL, "%s",
		      vg_buf_cstr(&r.body));
	reply_release(&r);
	check_bad("/api/v1/parse_query?query=sum(", "invalid parameter \"query\": 1:5: parse error: ");
	/* Every kind of node, each answer valid JSON with a type. */
	{
		static const char *const qs[] = {
			"1", "-Inf", "NaN", "0x10", "1e300", "5e-324", "\"a\\\"b\"", "`raw\\`",
			"x{a!=\"1\",b!~\"2\"}", "{__name__=~\"x.*\"}", "x offset -5m", "x @ start()",
			"rate(x[1m] @ 100 offset 1h)", "x[5m:] offset 1m", "-(x)", "+x", "(((x)))",
			"sum without (a, b) (x)", "count_values(\"l\", x)", "quantile(0.5, x)",
			"x and on() y", "x unless ignoring(a) y", "x + on(a) group_right(b, c) y",
			"label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")", "round(x)", "day_of_week()",
			"histogram_quantile(0.9, sum by (le) (rate(h[5m])))", "x ^ 2 ^ 3", "x atan2 y",
		};
		for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
			char *e = curl_easy_escape(NULL, qs[i], 0);
			char path[512];
			json_t *j, *d;

			snprintf(path, sizeof(path), "/api/v1/parse_query?query=%s", e);
			curl_free(e);
			j = get_json(path, 200);
			d = json_object_get(j, "data");
			ck_assert_msg(json_is_string(json_object_get(d, "type")), "%s: %s", qs[i],
				      json_dumps(j, JSON_COMPACT));
			json_decref(j);
		}
	}
}
END_TEST

static Suite *http_api_suite(void)
{
	Suite *s = suite_create("http_api");
	TCase *tc = tcase_create("query");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_http_query_vector_shape_and_encoding);
	tcase_add_test(tc, test_http_query_empty_result_is_array);
	tcase_add_test(tc, test_http_query_lookback_delta_param);
	tcase_add_test(tc, test_http_query_range_matrix);
	tcase_add_test(tc, test_http_query_post_form_body_wins_over_url);
	tcase_add_test(tc, test_http_query_promql_shapes);
	suite_add_tcase(s, tc);

	tc = tcase_create("metadata");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_http_series_dedup_and_errors);
	tcase_add_test(tc, test_http_labels_and_values);
	tcase_add_test(tc, test_http_buildinfo_has_version_no_features);
	tcase_add_test(tc, test_http_metadata_and_exemplars_are_empty);
	tcase_add_test(tc, test_http_metrics_text_format);
	suite_add_tcase(s, tc);

	tc = tcase_create("interfaces");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_http_api_envelopes_as_the_interfaces_file);
	tcase_add_test(tc, test_http_api_stats_when_asked);
	tcase_add_test(tc, test_http_api_limit_everywhere);
	tcase_add_test(tc, test_http_api_methods_per_endpoint);
	tcase_add_test(tc, test_http_api_405_allow_per_route);
	tcase_add_test(tc, test_http_api_time_and_duration_forms);
	tcase_add_test(tc, test_http_api_parse_query_tree);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_http_query_errors_match_prometheus);
	tcase_add_test(tc, test_http_query_range_errors_match_prometheus);
	tcase_add_test(tc, test_http_unknown_paths);
	tcase_add_test(tc, test_http_options_preflight);
	tcase_add_test(tc, test_http_health_and_ready);
	tcase_add_test(tc, test_http_every_error_is_json);
	tcase_add_test(tc, test_http_head_request_has_no_body);
	tcase_add_test(tc, test_http_pipelined_refusal_follows_earlier_answer);
	tcase_add_test(tc, test_http_oversize_body_refused);
	tcase_add_test(tc, test_http_hostile_query_strings);
	tcase_add_test(tc, test_http_requests_are_counted);
	tcase_add_test(tc, test_http_start_fails_on_port_in_use);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int nf;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	sr = srunner_create(http_api_suite());
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
