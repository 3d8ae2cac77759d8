/*
 * http_api.c: the receiver's HTTP server (http_api.h): the Prometheus query
 * API under /api/v1/ (../shared/interfaces/prometheus-http-api.md) and the
 * receiver's own /metrics.
 *
 * Owns the HTTP surface: routing, the JSON envelope, error texts and status
 * codes. Does not own query semantics (query.c), the urlencoded syntax
 * (http_form.c), selector syntax (common/selector.c) or number formatting
 * (common/json.c).
 *
 * Threads: one thread of its own running its own event_base; libevent's
 * pthread locking is switched on (evthread_use_pthreads) before the base is
 * made, so vg_http_api_stop may ask the loop to exit from another thread.
 * Handlers read storage only through query.c and storage.h, which copy out
 * what they return, so JSON is formatted holding no storage lock. Queries
 * (/api/v1/query, query_range) are parsed here and evaluated, with their
 * JSON, on the query workers (receiver/query/pool.h; see struct
 * query_job), whose answers come back through event_active on this base.
 *
 * Requests: GET with a URL query (HEAD is answered as GET, without the
 * body), or POST (PUT on the admin routes and /-/reload, as Prometheus)
 * with an application/x-www-form-urlencoded body; both are decoded by
 * http_form.c (not with evhttp_parse_query_str, which keeps bad escapes
 * and turns %00 into a string end) into one list, body first, so the
 * first value of a name is the body's as in Go's FormValue, and match[]
 * gathers both. A bad escape or a NUL byte is a 400. Limits (options,
 * defaults): headers (request line included) 64 KiB in at most 100
 * fields, body 1 MiB, which import.c's filter enforces before evhttp sees
 * a request, so that every refusal is the JSON envelope; 10,000
 * parameters (VG_HTTP_FORM_MAX_PARAMS).
 *
 * Access: auth.h decides who may (401, 403), cors.h which origins a
 * browser may read from; /-/healthy and /-/ready need no credential, and
 * OPTIONS is answered on paths that exist, 404 elsewhere. With
 * tls_cert_file the listener speaks HTTPS only: the agent listener's
 * server context (receiver/ingest/tls.h), its bufferevent under import.c's
 * filter.
 *
 * `query` is PromQL (promql/parse.h), evaluated by receiver/query/eval.h;
 * parse errors are 400 bad_data and evaluation errors 422 execution, as
 * Prometheus reports them.
 */
#include "config.h" /* PACKAGE_VERSION */

#include "receiver/http/http_api.h"
#include "receiver/alert/rules.h"
#include "receiver/alert/notifier.h"
#include "receiver/storage/seal.h"
#include "receiver/storage/storage.h"
#include "receiver/http/auth.h"
#include "receiver/http/cors.h"
#include "receiver/http/http_form.h"
#include "receiver/http/import.h"
#include "receiver/http/status.h"
#include "receiver/http/web.h"
#include "receiver/ingest/tls.h"
#include "receiver/query/eval.h"
#include "receiver/query/pool.h"
#include "receiver/query/query.h"
#include "receiver/stats.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/selector.h"
#include "promql/ast.h"
#include "promql/ast_json.h"
#include "promql/parse.h"
#include "promql/print.h"
#include "common/series.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <netinet/in.h>
#include <netdb.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "common/banned.h"

#define MAX_HEADERS_BYTES (64 * 1024)
#define MAX_HEADER_FIELDS 100
#define MAX_BODY_BYTES (1024 * 1024)
#define REQUEST_TIMEOUT_S 60
#define HEADER_TIMEOUT_MS (10 * 1000)
/* How long the listener rests after accept() failed for want of fds. */
#define ACCEPT_PAUSE_MS 100
#define DEFAULT_LOOKBACK_MS (5 * 60 * 1000)
#define DEFAULT_QUERY_MAX_QUEUED 100

struct query_job;

struct vg_http_api {
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *listener; /* evhttp's, borrowed */
	struct event *accept_retry_ev;
	struct vg_complaint accept_complaint;
	_Atomic bool is_ready;
	pthread_t thread;
	bool has_thread;
	uint16_t port;
	int64_t lookback_ms;
	struct vg_head *head;   /* borrowed: its counts for /metrics */
	struct vg_storage *storage; /* borrowed: every read */
	struct vg_sealer *sealer;   /* borrowed; NULL: no admin/seal */
	struct vg_stats *stats; /* borrowed */
	struct vg_rules *rules;     /* borrowed; NULL: none */
	int (*reload)(void *arg, struct vg_err *err);
	void *reload_arg;
	struct vg_import *import; /* the streamed import under evhttp */
	struct vg_tls_server *tls; /* NULL: plain HTTP */
	struct vg_http_cors cors;
	struct vg_http_auth auth;
	bool is_full; /* at max_connections: not accepting (HTTP thread) */
	struct vg_notifier *notifier; /* borrowed; NULL: no /api/v2/ */
	/* The ingest rate of /api/v1/status/vigil (status.h), ticked by
	 * status_tick_ev (HTTP thread). */
	struct vg_status_rate status_rate;
	struct event *status_tick_ev;
	/* Queries: the pool evaluates; the limits each query gets; the
	 * jobs handed to the pool and not yet answered (HTTP thread). */
	struct vg_query_pool *pool;
	int64_t query_timeout_ms;
	uint64_t query_max_samples, query_max_series, query_max_response_bytes;
	unsigned query_max_queued;
	struct query_job *jobs;
	struct vg_web *web; /* the web page's files (web.h) */
};

/* --- replies -------------------------------------------------------------- */

struct ctx {
	struct vg_http_api *api;
	struct evhttp_request *req; /* NULL on a query worker */
	struct vg_http_form form;
	struct vg_buf out;
	uint64_t max_out_bytes; /* write_vector/write_matrix stop past it; 0: none */
};

static void free_detached(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

/* The CORS headers (cors.h), only for a request that has an Origin. */
static void add_cors(struct ctx *c, struct evkeyvalq *h)
{
	const char *origin = evhttp_find_header(evhttp_request_get_input_headers(c->req), "Origin");
	const char *allow;

	if (origin == NULL || *origin == '\0')
		return;
	if ((allow = vg_http_cors_allow(&c->api->cors, origin)) != NULL)
		evhttp_add_header(h, "Access-Control-Allow-Origin", allow);
	for (size_t i = 0; vg_http_cors_fixed[i][0]; i++)
		evhttp_add_header(h, vg_http_cors_fixed[i][0], vg_http_cors_fixed[i][1]);
}

/* evhttp_send_reply, but a HEAD gets the length of the body it would
 * have had and no body (evhttp 2.1 would send the body). */
static void send_reply(struct evhttp_request *req, int code)
{
	struct evbuffer *eb = evhttp_request_get_output_buffer(req);
	char len[32];

	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		if (code != 204 && code != 304) {
			snprintf(len, sizeof(len), "%zu", evbuffer_get_length(eb));
			evhttp_remove_header(evhttp_request_get_output_headers(req), "Content-Length");
			evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", len);
		}
		evbuffer_drain(eb, evbuffer_get_length(eb));
	}
	evhttp_send_reply(req, code, NULL, NULL);
}

/* Sends c->out with code; an out-of-memory buffer becomes a 500. */
static void send_body(struct ctx *c, int code, const char *content_type)
{
	static const char oom[] =
		"{\"status\":\"error\",\"errorType\":\"internal\",\"error\":\"out of memory\"}";
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	struct evbuffer *eb = evhttp_request_get_output_buffer(c->req);
	size_t len;
	char *data;

	evhttp_add_header(h, "Content-Type", content_type);
	add_cors(c, h);
	if (vg_buf_failed(&c->out)) {
		vg_buf_release(&c->out);
		evbuffer_add(eb, oom, sizeof(oom) - 1);
		send_reply(c->req, 500);
		return;
	}
	data = vg_buf_detach(&c->out, &len);
	if (data != NULL && len > 0 && evbuffer_add_reference(eb, data, len, free_detached, NULL) != 0) {
		evbuffer_add(eb, data, len);
		free(data);
	} else if (data != NULL && len == 0) {
		free(data);
	}
	send_reply(c->req, code);
}

static void send_json(struct ctx *c, int code)
{
	send_body(c, code, "application/json");
}

/* The error envelope into b (reset first). */
static void json_error(struct vg_buf *b, const char *type, const char *msg)
{
	vg_buf_reset(b);
	vg_buf_puts(b, "{\"status\":\"error\",\"errorType\":");
	vg_json_cstr(b, type);
	vg_buf_puts(b, ",\"error\":");
	vg_json_cstr(b, msg);
	vg_buf_putc(b, '}');
}

static void reply_error(struct ctx *c, int code, const char *type, const char *msg)
{
	json_error(&c->out, type, msg);
	send_json(c, code);
}

static void bad_data(struct ctx *c, const char *msg)
{
	reply_error(c, 400, "bad_data", msg);
}

/* 400 `invalid parameter "<name>": <cause>`, as Prometheus words it. */
static void bad_param(struct ctx *c, const char *name, const char *cause)
{
	struct vg_buf m = VG_BUF_INIT;

	vg_buf_printf(&m, "invalid parameter \"%s\": %s", name, cause);
	bad_data(c, vg_buf_failed(&m) ? "invalid parameter" : vg_buf_cstr(&m));
	vg_buf_release(&m);
}

static void reply_internal(struct ctx *c, const char *msg)
{
	reply_error(c, 500, "internal", msg);
}

/* Starts a success envelope; the caller writes data's value, then
 * finish_success closes it (with the truncation warning if asked). */
static void begin_success(struct ctx *c)
{
	vg_buf_reset(&c->out);
	vg_buf_puts(&c->out, "{\"status\":\"success\",\"data\":");
}

static void end_success(struct ctx *c, bool is_truncated)
{
	if (is_truncated)
		vg_buf_puts(&c->out, ",\"warnings\":[\"results truncated due to limit\"]");
	vg_buf_putc(&c->out, '}');
}

static void finish_success(struct ctx *c, bool is_truncated)
{
	end_success(c, is_truncated);
	send_json(c, 200);
}

/* --- JSON of series --------------------------------------------------------- */

static void json_label(struct vg_buf *b, bool *is_first, struct vg_str name, struct vg_str value)
{
	if (!*is_first)
		vg_buf_putc(b, ',');
	*is_first = false;
	vg_json_str(b, name.p, name.len);
	vg_buf_putc(b, ':');
	vg_json_str(b, value.p, value.len);
}

/* {"__name__":"x","a":"1"}: labels in Prometheus's order, __name__ placed
 * by its own name among them. */
static void json_metric(struct vg_buf *b, const uint8_t *key, size_t key_len)
{
	static const struct vg_str name_label = { "__name__", 8 };
	struct vg_series s;
	bool is_first = true, is_name_done;

	if (vg_series_from_key(key, key_len, &s) != 0) {
		vg_buf_puts(b, "{}");
		return;
	}
	is_name_done = s.name.len == 0;
	vg_buf_putc(b, '{');
	for (uint32_t i = 0; i < s.n_labels; i++) {
		if (!is_name_done && vg_str_cmp(name_label, s.labels[i].name) < 0) {
			json_label(b, &is_first, name_label, s.name);
			is_name_done = true;
		}
		json_label(b, &is_first, s.labels[i].name, s.labels[i].value);
	}
	if (!is_name_done)
		json_label(b, &is_first, name_label, s.name);
	vg_buf_putc(b, '}');
}

static void json_str_array(struct vg_buf *b, const struct vg_str *v, size_t n)
{
	vg_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			vg_buf_putc(b, ',');
		vg_json_str(b, v[i].p, v[i].len);
	}
	vg_buf_putc(b, ']');
}

/* --- parameters ------------------------------------------------------------- */

/* A time parameter; an absent or empty one takes def. false after replying.
 * The cause is worded as Prometheus's parseTimeParam wraps it ("invalid
 * time value for 'time': ..."; 2.x capitalised the "Invalid"). */
static bool get_time(struct ctx *c, const char *name, int64_t def, int64_t *out)
{
	const char *s = vg_http_form_get(&c->form, name, NULL);
	char msg[VG_ERR_MSG_MAX + 64];
	struct vg_err err;

	if (s == NULL || *s == '\0') {
		*out = def;
		return true;
	}
	if (vg_time_parse(s, out, &err) != 0) {
		snprintf(msg, sizeof(msg), "invalid time value for '%s': %s", name, err.msg);
		bad_param(c, name, msg);
		return false;
	}
	return true;
}

/* A required time parameter: "" fails as Prometheus's parseTime does. */
static bool get_time_required(struct ctx *c, const char *name, int64_t *out)
{
	const char *s = vg_http_form_get(&c->form, name, NULL);
	struct vg_err err;

	if (vg_time_parse(s ? s : "", out, &err) != 0) {
		bad_param(c, name, err.msg);
		return false;
	}
	return true;
}

/* limit: Go's strconv.Atoi, then non-negative; 0 means no limit. */
static bool get_limit(struct ctx *c, int64_t *limit)
{
	const char *s = vg_http_form_get(&c->form, "limit", NULL);
	char msg[VG_ERR_MSG_MAX];
	const char *p;
	char *end;
	long long v;

	*limit = 0;
	if (s == NULL || *s == '\0')
		return true;
	p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (*p < '0' || *p > '9') {
		snprintf(msg, sizeof(msg), "strconv.Atoi: parsing \"%.200s\": invalid syntax", s);
		goto fail;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0') {
		snprintf(msg, sizeof(msg), "strconv.Atoi: parsing \"%.200s\": invalid syntax", s);
		goto fail;
	}
	if (errno == ERANGE) {
		snprintf(msg, sizeof(msg), "strconv.Atoi: parsing \"%.200s\": value out of range", s);
		goto fail;
	}
	if (v < 0) {
		snprintf(msg, sizeof(msg), "limit must be non-negative");
		goto fail;
	}
	*limit = v;
	return true;
fail:
	bad_param(c, "limit", msg);
	return false;
}

/* timeout: parsed as Prometheus does; it shortens the server's
 * query.timeout, never lengthens it. *ms -1 when absent; a negative one
 * is 0, as Prometheus's deadline (now + timeout) has passed already. */
static bool get_timeout(struct ctx *c, int64_t *ms)
{
	const char *s = vg_http_form_get(&c->form, "timeout", NULL);
	struct vg_err err;

	*ms = -1;
	if (s == NULL || *s == '\0')
		return true;
	if (vg_duration_parse_api(s, ms, &err) != 0) {
		bad_param(c, "timeout", err.msg);
		return false;
	}
	if (*ms < 0)
		*ms = 0;
	return true;
}

/* lookback_delta: absent, empty, zero or negative mean the default. */
static bool get_lookback(struct ctx *c, int64_t *out)
{
	const char *s = vg_http_form_get(&c->form, "lookback_delta", NULL);
	struct vg_err err;
	char msg[VG_ERR_MSG_MAX + 64];
	int64_t ms;

	*out = c->api->lookback_ms > 0 ? c->api->lookback_ms : DEFAULT_LOOKBACK_MS;
	if (s == NULL || *s == '\0')
		return true;
	if (vg_duration_parse_api(s, &ms, &err) != 0) {
		snprintf(msg, sizeof(msg), "error parsing lookback delta duration: %s", err.msg);
		bad_data(c, msg);
		return false;
	}
	if (ms > 0)
		*out = ms;
	return true;
}

static bool parse_query(struct ctx *c, struct vg_promql_node **expr)
{
	size_t len = 0;
	const char *q = vg_http_form_get(&c->form, "query", &len);
	struct vg_err err;

	if (vg_promql_parse(q ? q : "", q ? len : 0, expr, NULL, &err) != 0) {
		bad_param(c, "query", err.msg);
		return false;
	}
	return true;
}

/* /query_exemplars: no exemplars are kept, so a valid request answers [];
 * start, end and query are checked as Prometheus checks them, its parse
 * error given without the "invalid parameter" prefix, as it gives it. */
static void handle_exemplars(struct ctx *c)
{
	size_t len = 0;
	const char *q;
	struct vg_promql_node *expr = NULL;
	struct vg_err err;
	int64_t start_ms, end_ms;

	if (!get_time(c, "start", INT64_MIN, &start_ms) || !get_time(c, "end", INT64_MAX, &end_ms))
		return;
	if (end_ms < start_ms) {
		bad_data(c, "end timestamp must not be before start timestamp");
		return;
	}
	q = vg_http_form_get(&c->form, "query", &len);
	if (vg_promql_parse(q ? q : "", q ? len : 0, &expr, NULL, &err) != 0) {
		bad_data(c, err.msg);
		return;
	}
	vg_promql_node_free(expr);
	vg_buf_puts(&c->out, "{\"status\":\"success\",\"data\":[]}");
	send_json(c, 200);
}

/* All match[] selectors, parsed; *n may be 0. false after replying; the
 * error names the parameter when is_named (as /series words it, while
 * /labels and /label/x/values do not). */
static bool parse_matches(struct ctx *c, struct vg_selector **sels, size_t *n, bool is_named)
{
	size_t count = 0;
	struct vg_err err;

	*sels = NULL;
	*n = 0;
	for (size_t i = 0; i < c->form.n; i++)
		if (strcmp(vg_http_form_name(&c->form, i), "match[]") == 0)
			count++;
	if (count == 0)
		return true;
	*sels = calloc(count, sizeof(**sels));
	if (*sels == NULL) {
		reply_internal(c, "out of memory");
		return false;
	}
	for (size_t i = 0; i < c->form.n; i++) {
		const char *v;
		size_t v_len;

		if (strcmp(vg_http_form_name(&c->form, i), "match[]") != 0)
			continue;
		v = vg_http_form_value(&c->form, i, &v_len);
		if (vg_promql_parse_selector(v, v_len, &(*sels)[*n], NULL, &err) != 0) {
			/* Prometheus parses match[] without that rule of the
			 * query language and then words it for match[]. */
			if (strstr(err.msg, "parse error: vector selector must contain at least one non-empty matcher"))
				vg_err_set(&err, VG_EINVAL, "match[] must contain at least one non-empty matcher");
			if (is_named)
				bad_param(c, "match[]", err.msg);
			else
				bad_data(c, err.msg);
			return false;
		}
		(*n)++;
	}
	return true;
}

static void release_matches(struct vg_selector *sels, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vg_selector_release(&sels[i]);
	free(sels);
}

/* --- endpoints ---------------------------------------------------------------- */

/* Whether the body went past max_out_bytes: the writers stop there
 * rather than build the whole body and measure it. */
static bool is_over(const struct ctx *c)
{
	return c->max_out_bytes != 0 && c->out.len > c->max_out_bytes;
}

static bool write_vector(struct ctx *c, const struct vg_query_result *r, size_t n)
{
	vg_buf_puts(&c->out, "{\"resultType\":\"vector\",\"result\":[");
	for (size_t i = 0; i < n; i++) {
		const struct vg_query_series *s = &r->series[i];
		if (is_over(c))
			return false;
		if (i)
			vg_buf_putc(&c->out, ',');
		vg_buf_puts(&c->out, "{\"metric\":");
		json_metric(&c->out, s->key, s->key_len);
		vg_buf_puts(&c->out, ",\"value\":");
		vg_json_sample(&c->out, s->ts_ms[0], s->values[0]);
		vg_buf_putc(&c->out, '}');
	}
	vg_buf_puts(&c->out, "]}");
	return !is_over(c);
}

static bool write_matrix(struct ctx *c, const struct vg_query_result *r, size_t n)
{
	vg_buf_puts(&c->out, "{\"resultType\":\"matrix\",\"result\":[");
	for (size_t i = 0; i < n; i++) {
		const struct vg_query_series *s = &r->series[i];
		if (i)
			vg_buf_putc(&c->out, ',');
		vg_buf_puts(&c->out, "{\"metric\":");
		json_metric(&c->out, s->key, s->key_len);
		vg_buf_puts(&c->out, ",\"values\":[");
		for (size_t j = 0; j < s->n; j++) {
			if (j)
				vg_buf_putc(&c->out, ',');
			vg_json_sample(&c->out, s->ts_ms[j], s->values[j]);
			if (is_over(c))
				return false;
		}
		vg_buf_puts(&c->out, "]}");
	}
	vg_buf_puts(&c->out, "]}");
	return !is_over(c);
}

static size_t apply_limit(size_t n, int64_t limit, bool *is_truncated)
{
	*is_truncated = limit > 0 && (uint64_t)n > (uint64_t)limit;
	return *is_truncated ? (size_t)limit : n;
}

/* --- stats (?stats=<any non-empty value>, as Prometheus's) ----------------- */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool wants_stats(struct ctx *c)
{
	const char *s = vg_http_form_get(&c->form, "stats", NULL);

	return s != NULL && *s != '\0';
}

/*
 * Adds "stats" to the data object just written (c->out ends with its
 * '}'), in Prometheus's shape: timings in seconds (preparation = the
 * request's parameters and parse, queue = waiting for a query worker,
 * inner = evaluation, which sorts as it goes, so resultSort is 0) and the
 * samples eval.h counts.
 */
static void add_stats(struct ctx *c, int64_t t0_ns, int64_t t_parsed_ns, int64_t t_run_ns, int64_t t_done_ns,
		      const struct vg_eval_result *res)
{
	double prep = (double)(t_parsed_ns - t0_ns) / 1e9, inner = (double)(t_done_ns - t_run_ns) / 1e9;
	double queue = (double)(t_run_ns - t_parsed_ns) / 1e9;

	if (c->out.len == 0 || c->out.data[c->out.len - 1] != '}')
		return;
	c->out.len--;
	vg_buf_printf(&c->out,
		      ",\"stats\":{\"timings\":{\"evalTotalTime\":%.9g,\"resultSortTime\":0,"
		      "\"queryPreparationTime\":%.9g,\"innerEvalTime\":%.9g,\"execQueueTime\":%.9g,"
		      "\"execTotalTime\":%.9g},\"samples\":{\"totalQueryableSamples\":%" PRIu64
		      ",\"peakSamples\":%" PRIu64 "}}}",
		      prep + inner, prep, inner, queue, prep + queue + inner, res->samples_total, res->samples_peak);
}

/*
 * Queries run on the worker pool (receiver/query/pool.h): the HTTP thread
 * parses and checks the parameters, hands a query_job to the pool, and
 * goes on serving. The worker evaluates within the job's limits and
 * builds the whole answer (status code and body) into the job, then
 * event_active()s the job's event, which this server's base owns; the
 * answer is sent from that callback, on the HTTP thread. A worker never
 * touches evhttp or the base beyond that one call.
 *
 * Ownership: a job belongs to the HTTP thread until submitted, then to
 * the pool until its done runs, then to the HTTP thread again (the event
 * makes the worker's writes visible: libevent's locks order them). Jobs
 * handed over and not answered are on api->jobs, so that stop frees
 * those whose answer never ran.
 *
 * A client that closes its connection before the answer abandons the
 * query. evhttp stops reading a connection while its request waits for
 * an answer, so it would notice only when the answer is written; while
 * the job is out this thread watches the socket itself (one read event,
 * and a peek when it is readable: end of file or an error means the
 * client is gone; bytes, such as a pipelined request or a TLS alert,
 * end the watch), and the connection's close callback covers evhttp
 * freeing it for another reason. Either sets is_client_gone, which the
 * evaluator checks with its deadline (query.h): the query stops at its
 * next check, frees what it held and its worker, and is counted as
 * client_gone. Watch and callback are taken off before the answer is
 * sent or the job freed, so neither meets a job or a descriptor that is
 * gone.
 */
struct query_job {
	struct vg_query_job job;
	struct vg_http_api *api;
	struct evhttp_request *req; /* HTTP thread only */
	struct evhttp_connection *evcon; /* req's, while its close callback is ours; NULL: gone */
	struct event *watch;             /* the socket's end of file, while the job is out */
	_Atomic bool is_client_gone;     /* set on the HTTP thread, read by the evaluator */
	struct event *ev;           /* on api->base: the answer's way back */
	struct query_job *prev, *next; /* api->jobs, HTTP thread only */
	struct vg_promql_node *expr;
	bool is_range;
	int64_t t_ms, start_ms, end_ms, step_ms, lookback_ms, limit;
	struct vg_query_limits lim;
	/* ?stats: when the request came and when it was parsed (mono_ns). */
	bool wants_stats;
	int64_t t0_ns, t_parsed_ns;
	/* The answer, built by the worker. */
	int code;
	struct vg_buf out;
};

static void query_job_free(struct query_job *q)
{
	if (q->ev != NULL)
		event_free(q->ev);
	vg_promql_node_free(q->expr);
	vg_buf_release(&q->out);
	free(q);
}

/* The answer to an evaluation that failed: Prometheus's error types for
 * its limits (a timeout is 503 timeout; too many samples 422 execution),
 * 422 execution for the query's own fault, 500 for the server's. */
static void job_error(struct query_job *q, const struct vg_err *err)
{
	const char *type = "internal";
	enum vg_stats_query outcome = VG_STATS_QUERY_ERROR;

	q->code = 500;
	switch (q->lim.hit) {
	case VG_QUERY_HIT_TIMEOUT:
		q->code = 503;
		type = "timeout";
		outcome = VG_STATS_QUERY_TIMEOUT;
		break;
	case VG_QUERY_HIT_CANCELED:
		q->code = 499;
		type = "canceled";
		outcome = VG_STATS_QUERY_CANCELED;
		break;
	case VG_QUERY_HIT_CLIENT_GONE:
		q->code = 499; /* read by nobody */
		type = "canceled";
		outcome = VG_STATS_QUERY_CLIENT_GONE;
		break;
	case VG_QUERY_HIT_SAMPLES:
	case VG_QUERY_HIT_SERIES:
		q->code = 422;
		type = "execution";
		outcome = q->lim.hit == VG_QUERY_HIT_SAMPLES ? VG_STATS_QUERY_TOO_MANY_SAMPLES
							    : VG_STATS_QUERY_TOO_MANY_SERIES;
		break;
	case VG_QUERY_HIT_NONE:
		if (err->code == VG_EINVAL) {
			q->code = 422;
			type = "execution";
		}
		break;
	}
	atomic_fetch_add_explicit(&q->api->stats->queries[outcome], 1, memory_order_relaxed);
	json_error(&q->out, type, err->msg);
}

/* On a worker: evaluates and builds the answer. */
static void run_query(struct vg_query_job *job, const _Atomic bool *is_stopping)
{
	struct query_job *q = (struct query_job *)job;
	struct ctx c = { .api = q->api, .out = VG_BUF_INIT, .max_out_bytes = q->api->query_max_response_bytes };
	struct vg_eval_result res;
	struct vg_err err;
	bool is_truncated = false, is_whole = true;
	int64_t t_run_ns = mono_ns();
	int rc;

	q->lim.is_stopping = is_stopping;
	if (vg_query_limits_check(&q->lim, &err) != 0) {
		if (q->lim.hit == VG_QUERY_HIT_TIMEOUT)
			snprintf(err.msg, sizeof(err.msg), "query timed out in query queue");
		job_error(q, &err);
		return;
	}
	if (q->is_range)
		rc = vg_eval_range_limited(q->api->storage, q->expr, q->start_ms, q->end_ms, q->step_ms,
					   q->lookback_ms, &q->lim, &res, &err);
	else
		rc = vg_eval_instant_limited(q->api->storage, q->expr, q->t_ms, q->lookback_ms, &q->lim, &res,
					     &err);
	if (rc != 0) {
		job_error(q, &err);
		return;
	}
	begin_success(&c);
	switch (q->is_range ? VG_PROMQL_MATRIX : res.type) {
	case VG_PROMQL_SCALAR:
		vg_buf_puts(&c.out, "{\"resultType\":\"scalar\",\"result\":");
		vg_json_scalar(&c.out, q->t_ms, res.scalar);
		vg_buf_putc(&c.out, '}');
		break;
	case VG_PROMQL_STRING:
		vg_buf_puts(&c.out, "{\"resultType\":\"string\",\"result\":[");
		vg_json_scalar_time(&c.out, q->t_ms);
		vg_buf_putc(&c.out, ',');
		vg_json_str(&c.out, res.str, res.str_len);
		vg_buf_puts(&c.out, "]}");
		break;
	case VG_PROMQL_VECTOR:
		is_whole = write_vector(&c, &res.series, apply_limit(res.series.n, q->limit, &is_truncated));
		break;
	case VG_PROMQL_MATRIX:
		is_whole = write_matrix(&c, &res.series, apply_limit(res.series.n, q->limit, &is_truncated));
		break;
	}
	if (q->wants_stats && is_whole)
		add_stats(&c, q->t0_ns, q->t_parsed_ns, t_run_ns, mono_ns(), &res);
	vg_eval_result_release(&res);
	if (!is_whole) {
		vg_buf_release(&c.out);
		atomic_fetch_add_explicit(&q->api->stats->queries[VG_STATS_QUERY_TOO_LARGE], 1, memory_order_relaxed);
		q->code = 422;
		vg_buf_printf(&q->out, "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":"
			      "\"the response would be larger than %" PRIu64 " bytes (query.max_response_size)\"}",
			      q->api->query_max_response_bytes);
		return;
	}
	end_success(&c, is_truncated);
	atomic_fetch_add_explicit(&q->api->stats->queries[VG_STATS_QUERY_OK], 1, memory_order_relaxed);
	q->code = 200;
	q->out = c.out;
}

/* On a worker (or at stop, for a job that never ran): back to the HTTP
 * thread. */
static void query_done(struct vg_query_job *job, bool is_run)
{
	struct query_job *q = (struct query_job *)job;

	if (!is_run) {
		q->code = 503;
		json_error(&q->out, "unavailable", "the receiver is stopping");
	}
	event_active(q->ev, EV_TIMEOUT, 0);
}

/* On the HTTP thread: evhttp frees the connection of the query's
 * request (its client closed it, or the receiver stops). */
static void on_client_gone(struct evhttp_connection *evcon, void *arg)
{
	struct query_job *q = arg;

	(void)evcon;
	q->evcon = NULL;
	if (q->watch != NULL) {
		event_free(q->watch); /* before the descriptor is closed */
		q->watch = NULL;
	}
	atomic_store_explicit(&q->is_client_gone, true, memory_order_relaxed);
}

/* On the HTTP thread: the socket of a query's client became readable. */
static void on_client_readable(evutil_socket_t fd, short what, void *arg)
{
	struct query_job *q = arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	(void)what;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		atomic_store_explicit(&q->is_client_gone, true, memory_order_relaxed);
	else if (n < 0 && event_add(q->watch, NULL) == 0)
		return; /* nothing after all: watch on */
	/* Gone, or bytes this thread must not take: the watch ends. */
	event_free(q->watch);
	q->watch = NULL;
}

/* On the HTTP thread, while the job is out: watches its client. */
static void watch_client(struct query_job *q)
{
	struct bufferevent *bev, *under;
	evutil_socket_t fd;

	if ((q->evcon = evhttp_request_get_connection(q->req)) == NULL)
		return;
	evhttp_connection_set_closecb(q->evcon, on_client_gone, q);
	bev = evhttp_connection_get_bufferevent(q->evcon);
	fd = bev ? bufferevent_getfd(bev) : -1;
	if (fd < 0 && bev != NULL && (under = bufferevent_get_underlying(bev)) != NULL)
		fd = bufferevent_getfd(under); /* under import.c's filter */
	if (fd >= 0 && (q->watch = event_new(q->api->base, fd, EV_READ, on_client_readable, q)) != NULL &&
	    event_add(q->watch, NULL) != 0) {
		event_free(q->watch);
		q->watch = NULL;
	}
}

/* On the HTTP thread: takes the watch and on_client_gone off the job. */
static void release_client(struct query_job *q)
{
	if (q->watch != NULL)
		event_free(q->watch);
	q->watch = NULL;
	if (q->evcon != NULL)
		evhttp_connection_set_closecb(q->evcon, NULL, NULL);
	q->evcon = NULL;
}

/* On the HTTP thread: sends the answer. evhttp keeps a request whose
 * client left until it is answered, and then frees it. */
static void query_reply(evutil_socket_t fd, short what, void *arg)
{
	struct query_job *q = arg;
	struct ctx c = { .api = q->api, .req = q->req, .out = q->out };

	(void)fd;
	(void)what;
	release_client(q);
	if (q->prev)
		q->prev->next = q->next;
	else
		q->api->jobs = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->out = (struct vg_buf)VG_BUF_INIT;
	send_json(&c, q->code);
	vg_buf_release(&c.out);
	query_job_free(q);
}

/* Hands a parsed query (the parameters in p; p->expr, now the job's) to
 * the pool, or answers 503 when the pool's queue is full. timeout_ms: the
 * request's, -1 none. */
static void submit_query(struct ctx *c, const struct query_job *p, int64_t timeout_ms)
{
	struct vg_http_api *api = c->api;
	int64_t t = api->query_timeout_ms > 0 ? api->query_timeout_ms : -1;
	struct query_job *q = malloc(sizeof(*q));
	char msg[128];
	int rc;

	if (q == NULL) {
		vg_promql_node_free(p->expr);
		reply_internal(c, "out of memory");
		return;
	}
	*q = *p;

	if (timeout_ms >= 0 && (t < 0 || timeout_ms < t))
		t = timeout_ms;
	q->api = api;
	q->req = c->req;
	q->evcon = NULL;
	q->watch = NULL;
	atomic_init(&q->is_client_gone, false);
	q->lim.is_client_gone = &q->is_client_gone;
	q->out = (struct vg_buf)VG_BUF_INIT;
	q->lim.deadline_ms = t >= 0 ? vg_clock_mono_ms() + t : 0;
	if (q->lim.deadline_ms == 0 && t >= 0)
		q->lim.deadline_ms = 1;
	q->lim.max_samples = api->query_max_samples;
	q->lim.max_series = api->query_max_series;
	q->job.run = run_query;
	q->job.done = query_done;
	if ((q->ev = event_new(api->base, -1, 0, query_reply, q)) == NULL) {
		query_job_free(q);
		reply_internal(c, "out of memory");
		return;
	}
	if ((rc = vg_query_pool_submit(api->pool, &q->job)) != 0) {
		query_job_free(q);
		if (rc == VG_ELIMIT) {
			atomic_fetch_add_explicit(&api->stats->queries[VG_STATS_QUERY_QUEUE_FULL], 1,
						  memory_order_relaxed);
			snprintf(msg, sizeof(msg), "too many queries waiting (query.max_queued is %u); try again later",
				 api->query_max_queued);
			evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
			reply_error(c, 503, "unavailable", msg);
		} else {
			reply_error(c, 503, "unavailable", "the receiver is stopping");
		}
		return;
	}
	/* The answer comes back through this thread's loop, so the callback
	 * is set before it can run. */
	watch_client(q);
	q->next = api->jobs;
	if (api->jobs)
		api->jobs->prev = q;
	api->jobs = q;
}

static void handle_query(struct ctx *c)
{
	struct vg_promql_node *expr = NULL;
	int64_t limit, t_ms, lookback_ms, timeout_ms, t0_ns = mono_ns();

	if (!get_limit(c, &limit) || !get_time(c, "time", vg_clock_now_ms(), &t_ms) ||
	    !get_timeout(c, &timeout_ms) || !get_lookback(c, &lookback_ms) || !parse_query(c, &expr))
		return;
	submit_query(c,
		     &(struct query_job){ .expr = expr, .t_ms = t_ms, .lookback_ms = lookback_ms, .limit = limit,
					  .wants_stats = wants_stats(c), .t0_ns = t0_ns, .t_parsed_ns = mono_ns() },
		     timeout_ms);
}

static void handle_query_range(struct ctx *c)
{
	struct vg_promql_node *expr = NULL;
	struct vg_err err;
	int64_t limit, start_ms, end_ms, step_ms, lookback_ms, timeout_ms, t0_ns = mono_ns();
	const char *s;

	if (!get_limit(c, &limit) || !get_time_required(c, "start", &start_ms) ||
	    !get_time_required(c, "end", &end_ms))
		return;
	if (end_ms < start_ms) {
		bad_param(c, "end", "end timestamp must not be before start time");
		return;
	}
	s = vg_http_form_get(&c->form, "step", NULL);
	if (vg_duration_parse_api(s ? s : "", &step_ms, &err) != 0) {
		bad_param(c, "step", err.msg);
		return;
	}
	if (step_ms <= 0) {
		bad_param(c, "step", "zero or negative query resolution step widths are not "
				     "accepted. Try a positive integer");
		return;
	}
	if (((uint64_t)end_ms - (uint64_t)start_ms) / (uint64_t)step_ms > VG_QUERY_MAX_POINTS) {
		bad_data(c, "exceeded maximum resolution of 11,000 points per timeseries. "
			    "Try decreasing the query resolution (?step=XX)");
		return;
	}
	if (!get_timeout(c, &timeout_ms) || !get_lookback(c, &lookback_ms) || !parse_query(c, &expr))
		return;
	if (expr->type != VG_PROMQL_SCALAR && expr->type != VG_PROMQL_VECTOR) {
		struct vg_buf m = VG_BUF_INIT;
		vg_buf_printf(&m, "invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
			      vg_promql_type_name(expr->type));
		bad_data(c, vg_buf_failed(&m) ? "invalid expression type for range query" : vg_buf_cstr(&m));
		vg_buf_release(&m);
		vg_promql_node_free(expr);
		return;
	}
	submit_query(c,
		     &(struct query_job){ .expr = expr, .is_range = true, .start_ms = start_ms, .end_ms = end_ms,
					  .step_ms = step_ms, .lookback_ms = lookback_ms, .limit = limit,
					  .wants_stats = wants_stats(c), .t0_ns = t0_ns, .t_parsed_ns = mono_ns() },
		     timeout_ms);
}

/* /api/v1/format_query: the query in canonical form (promql/print.h). */
static void handle_format_query(struct ctx *c)
{
	struct vg_promql_node *expr = NULL;
	struct vg_buf text = VG_BUF_INIT;

	if (!parse_query(c, &expr))
		return;
	if (vg_promql_print(expr, &text) != 0) {
		reply_internal(c, "out of memory");
	} else {
		begin_success(c);
		vg_json_str(&c->out, (const char *)text.data, text.len);
		finish_success(c, false);
	}
	vg_buf_release(&text);
	vg_promql_node_free(expr);
}

/* /api/v1/parse_query: the query's tree as JSON (promql/ast_json.h), as
 * Prometheus 3 answers it for its web UI. */
static void handle_parse_query(struct ctx *c)
{
	struct vg_promql_node *expr = NULL;

	if (!parse_query(c, &expr))
		return;
	begin_success(c);
	vg_promql_to_json(expr, &c->out);
	finish_success(c, false);
	vg_promql_node_free(expr);
}

/* The series matching sels in [start, end], or false after replying. */
static bool select_series(struct ctx *c, struct vg_selector *sels, size_t n_sels, int64_t start_ms,
			  int64_t end_ms, struct vg_query_result *res)
{
	struct vg_selector **ptrs = malloc((n_sels ? n_sels : 1) * sizeof(*ptrs));
	struct vg_err err;
	int rc;

	if (ptrs == NULL) {
		reply_internal(c, "out of memory");
		return false;
	}
	for (size_t i = 0; i < n_sels; i++)
		ptrs[i] = &sels[i];
	rc = vg_query_series(c->api->storage, ptrs, n_sels, start_ms, end_ms, res, &err);
	free(ptrs);
	if (rc != 0) {
		reply_internal(c, err.msg);
		return false;
	}
	return true;
}

static void handle_series(struct ctx *c)
{
	struct vg_selector *sels = NULL;
	struct vg_query_result res = { 0, NULL };
	int64_t limit, start_ms, end_ms;
	size_t n_sels = 0, n;
	bool is_truncated;

	if (vg_http_form_get(&c->form, "match[]", NULL) == NULL) {
		bad_data(c, "no match[] parameter provided");
		return;
	}
	if (!get_limit(c, &limit) || !get_time(c, "start", INT64_MIN, &start_ms) ||
	    !get_time(c, "end", INT64_MAX, &end_ms) || !parse_matches(c, &sels, &n_sels, true))
		goto out;
	if (!select_series(c, sels, n_sels, start_ms, end_ms, &res))
		goto out;
	n = apply_limit(res.n, limit, &is_truncated);
	begin_success(c);
	vg_buf_putc(&c->out, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			vg_buf_putc(&c->out, ',');
		json_metric(&c->out, res.series[i].key, res.series[i].key_len);
	}
	vg_buf_putc(&c->out, ']');
	finish_success(c, is_truncated);
out:
	vg_query_result_release(&res);
	release_matches(sels, n_sels);
}

static int str_cmp(const void *a, const void *b)
{
	return vg_str_cmp(*(const struct vg_str *)a, *(const struct vg_str *)b);
}

/* Sorts v and drops repeats; returns the new count. */
static size_t sort_unique(struct vg_str *v, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), str_cmp);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || !vg_str_eq(v[out - 1], v[i]))
			v[out++] = v[i];
	return out;
}

/*
 * Label names (name == NULL) or the values of label name, over the series
 * in res: views into res's keys, sorted, each once.
 */
static int collect_labels(const struct vg_query_result *res, const char *name, struct vg_str **out,
			  size_t *n_out)
{
	static const struct vg_str name_label = { "__name__", 8 };
	struct vg_str *v = NULL;
	size_t n = 0, cap = 0;
	struct vg_series s;

	for (size_t i = 0; i < res->n; i++) {
		if (vg_series_from_key(res->series[i].key, res->series[i].key_len, &s) != 0)
			continue;
		if (cap - n < (size_t)s.n_labels + 1) {
			size_t ncap = cap ? cap * 2 : 64;
			void *p;
			while (ncap - n < (size_t)s.n_labels + 1)
				ncap *= 2;
			p = realloc(v, ncap * sizeof(*v));
			if (p == NULL) {
				free(v);
				return VG_ENOMEM;
			}
			v = p;
			cap = ncap;
		}
		if (name == NULL) {
			if (s.name.len)
				v[n++] = name_label;
			for (uint32_t j = 0; j < s.n_labels; j++)
				v[n++] = s.labels[j].name;
		} else if (strcmp(name, "__name__") == 0) {
			if (s.name.len)
				v[n++] = s.name;
		} else {
			const struct vg_str *val = vg_series_get(&s, name);
			if (val != NULL)
				v[n++] = *val;
		}
	}
	*n_out = sort_unique(v, n);
	*out = v;
	return 0;
}

/* /labels (name == NULL) and /label/<name>/values. */
static void handle_labels(struct ctx *c, const char *name)
{
	struct vg_selector *sels = NULL;
	struct vg_query_result res = { 0, NULL };
	struct vg_strset all = { NULL, 0, NULL };
	struct vg_str *v = NULL;
	int64_t limit, start_ms, end_ms;
	size_t n_sels = 0, n = 0;
	bool is_truncated = false;
	int rc;

	if (!get_time(c, "start", INT64_MIN, &start_ms) || !get_time(c, "end", INT64_MAX, &end_ms) ||
	    !parse_matches(c, &sels, &n_sels, false) || !get_limit(c, &limit))
		goto out;
	if (n_sels > 0) {
		if (!select_series(c, sels, n_sels, start_ms, end_ms, &res))
			goto out;
		if (collect_labels(&res, name, &v, &n) != 0) {
			reply_internal(c, "out of memory");
			goto out;
		}
		begin_success(c);
		json_str_array(&c->out, v, apply_limit(n, limit, &is_truncated));
		finish_success(c, is_truncated);
		goto out;
	}
	/* Every name or value the storage holds, copied out. */
	rc = name == NULL ? vg_storage_label_names(c->api->storage, &all)
			  : vg_storage_label_values(c->api->storage, name, &all);
	if (rc == 0) {
		begin_success(c);
		json_str_array(&c->out, all.v, apply_limit(all.n, limit, &is_truncated));
	}
	vg_strset_release(&all);
	if (rc != 0)
		reply_internal(c, "out of memory");
	else
		finish_success(c, is_truncated);
out:
	free(v);
	vg_query_result_release(&res);
	release_matches(sels, n_sels);
}

/*
 * Undoes Prometheus's U__ escaping of a label name (model.UnescapeName):
 * "__" is "_", "_<hex>_" a code point. Anything malformed leaves the name
 * as it was. Writes into out (NUL-terminated).
 */
static void unescape_name(const char *name, struct vg_buf *out)
{
	const char *p;

	if (strncmp(name, "U__", 3) != 0)
		goto verbatim;
	for (p = name + 3; *p; p++) {
		uint32_t cp = 0;
		int digits = 0;

		if (*p != '_') {
			vg_buf_putc(out, *p);
			continue;
		}
		p++;
		if (*p == '\0')
			goto verbatim;
		if (*p == '_') {
			vg_buf_putc(out, '_');
			continue;
		}
		for (; *p != '_'; p++) {
			int h = vg_hex_digit(*p);
			if (h < 0 || ++digits > 6)
				goto verbatim;
			cp = cp * 16 + (uint32_t)h;
		}
		if (digits == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			goto verbatim;
		if (cp < 0x80) {
			vg_buf_putc(out, (char)cp);
		} else if (cp < 0x800) {
			vg_buf_putc(out, (char)(0xC0 | cp >> 6));
			vg_buf_putc(out, (char)(0x80 | (cp & 0x3F)));
		} else if (cp < 0x10000) {
			vg_buf_putc(out, (char)(0xE0 | cp >> 12));
			vg_buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3F)));
			vg_buf_putc(out, (char)(0x80 | (cp & 0x3F)));
		} else {
			vg_buf_putc(out, (char)(0xF0 | cp >> 18));
			vg_buf_putc(out, (char)(0x80 | ((cp >> 12) & 0x3F)));
			vg_buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3F)));
			vg_buf_putc(out, (char)(0x80 | (cp & 0x3F)));
		}
	}
	vg_buf_putc(out, '\0');
	return;
verbatim:
	vg_buf_reset(out);
	vg_buf_puts(out, name);
	vg_buf_putc(out, '\0');
}

static void handle_label_values(struct ctx *c, const char *seg, size_t seg_len)
{
	struct vg_buf raw = VG_BUF_INIT, name = VG_BUF_INIT, msg = VG_BUF_INIT;
	struct vg_err err;
	size_t len;

	/* The path segment is percent-encoded ('+' is itself there). */
	if (vg_http_form_unescape(seg, seg_len, false, &raw, &len, &err) != 0) {
		bad_data(c, err.msg);
		goto out;
	}
	/* A NUL (from %00) would cut the name short: refuse it here. */
	if (strlen((const char *)raw.data) == len)
		unescape_name((const char *)raw.data, &name);
	len = strlen(vg_buf_cstr(&name));
	if (vg_buf_failed(&name) || len == 0 || len != name.len - 1 ||
	    !vg_utf8_valid(vg_buf_cstr(&name), len)) {
		vg_buf_puts(&msg, "invalid label name: \"");
		vg_label_value_escape((struct vg_str){ (const char *)raw.data, (uint32_t)(raw.len - 1) },
				      &msg);
		vg_buf_putc(&msg, '"');
		bad_data(c, vg_buf_cstr(&msg));
		goto out;
	}
	handle_labels(c, vg_buf_cstr(&name));
out:
	vg_buf_release(&raw);
	vg_buf_release(&name);
	vg_buf_release(&msg);
}

/* /api/v1/metadata: limit and limit_per_metric must be integers, in
 * Prometheus's words; the answer is empty, as no metadata is kept. */
static void handle_metadata(struct ctx *c)
{
	static const char *const names[] = { "limit", "limit_per_metric" };

	for (size_t i = 0; i < 2; i++) {
		const char *s = vg_http_form_get(&c->form, names[i], NULL);
		char *end, msg[64];

		if (s == NULL || *s == '\0')
			continue;
		errno = 0;
		(void)strtoll(s, &end, 10);
		if (*end != '\0' || errno == ERANGE || !(*s == '-' || *s == '+' || (*s >= '0' && *s <= '9')) ||
		    ((*s == '-' || *s == '+') && !(s[1] >= '0' && s[1] <= '9'))) {
			snprintf(msg, sizeof(msg), "%s must be a number", names[i]);
			bad_data(c, msg);
			return;
		}
	}
	begin_success(c);
	vg_buf_puts(&c->out, "{}");
	finish_success(c, false);
}

static void handle_buildinfo(struct ctx *c)
{
	begin_success(c);
	vg_buf_puts(&c->out, "{\"version\":");
	vg_json_cstr(&c->out, PACKAGE_VERSION);
	vg_buf_puts(&c->out, ",\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\","
			     "\"buildDate\":\"\",\"goVersion\":\"\"}");
	finish_success(c, false);
}

void vg_http_api_render_metrics(struct vg_http_api *api, struct vg_buf *out)
{
	vg_stats_render(api->stats, api->head, out);
	vg_stats_render_storage(api->storage, out);
	if (api->rules)
		vg_rules_render_metrics(api->rules, out);
	if (api->notifier)
		vg_notifier_render_metrics(api->notifier, out);
	{
		unsigned running, queued;
		vg_query_pool_counts(api->pool, &running, &queued);
		vg_stats_render_queries(api->stats, running, queued, out);
	}
}

static void handle_metrics(struct ctx *c)
{
	vg_buf_reset(&c->out);
	vg_http_api_render_metrics(c->api, &c->out);
	send_body(c, 200, "text/plain; version=0.0.4; charset=utf-8");
}

static void handle_status(struct ctx *c)
{
	struct vg_status_src src = {
		.stats = c->api->stats, .head = c->api->head, .storage = c->api->storage,
		.rate = &c->api->status_rate, .now_ms = vg_clock_now_ms(),
	};

	vg_query_pool_counts(c->api->pool, &src.queries_running, &src.queries_queued);
	vg_status_render(&src, &c->out);
	send_json(c, 200);
}

static void status_tick(evutil_socket_t fd, short what, void *arg)
{
	struct vg_http_api *api = arg;

	(void)fd;
	(void)what;
	vg_status_rate_tick(&api->status_rate, vg_clock_now_ms(),
			    atomic_load_explicit(&api->stats->samples_received, memory_order_relaxed));
}

/* --- rules and alerts (receiver/alert/rules.h) ------------------------------ */

/* The Allow header of a 405, by what a route takes: HEAD wherever GET
 * (method_of), PUT beside POST on the admin routes and /-/reload. */
#define ALLOW_GET "GET, HEAD, OPTIONS"
#define ALLOW_GET_POST "GET, HEAD, POST, OPTIONS"
#define ALLOW_POST "POST, OPTIONS"
#define ALLOW_ADMIN "POST, PUT, OPTIONS"

static void method_not_allowed(struct ctx *c, const char *allow);

static void handle_rules(struct ctx *c)
{
	struct vg_rules_filter f = { 0 };
	const char *type = vg_http_form_get(&c->form, "type", NULL);
	const char *excl = vg_http_form_get(&c->form, "exclude_alerts", NULL);
	const char **lists = NULL;
	size_t n = c->form.n, k = 0;

	if (type != NULL && *type == '\0')
		type = NULL;
	if (type != NULL && strcmp(type, "alert") != 0 && strcmp(type, "record") != 0) {
		bad_data(c, "unsupported type: only 'alert' or 'record' are accepted");
		return;
	}
	if (excl != NULL && strcmp(excl, "true") != 0 && strcmp(excl, "false") != 0 && *excl != '\0') {
		bad_data(c, "exclude_alerts: expected true or false");
		return;
	}
	f.type = type;
	f.is_excluding_alerts = excl != NULL && strcmp(excl, "true") == 0;
	/* rule_name[], rule_group[], file[]: one array, in that order. */
	if (n && (lists = calloc(n, sizeof(*lists))) == NULL) {
		reply_internal(c, "out of memory");
		return;
	}
	static const char *const keys[] = { "rule_name[]", "rule_group[]", "file[]" };
	size_t counts[3] = { 0, 0, 0 };
	for (size_t w = 0; w < 3; w++)
		for (size_t i = 0; i < n; i++)
			if (strcmp(vg_http_form_name(&c->form, i), keys[w]) == 0) {
				lists[k++] = vg_http_form_value(&c->form, i, NULL);
				counts[w]++;
			}
	f.names = lists;
	f.n_names = counts[0];
	f.groups = lists ? lists + counts[0] : NULL;
	f.n_groups = counts[1];
	f.files = lists ? lists + counts[0] + counts[1] : NULL;
	f.n_files = counts[2];
	begin_success(c);
	if (c->api->rules)
		vg_rules_render_rules(c->api->rules, &f, &c->out);
	else
		vg_buf_puts(&c->out, "{\"groups\":[]}");
	finish_success(c, false);
	free(lists);
}

static void handle_alerts(struct ctx *c)
{
	begin_success(c);
	if (c->api->rules && c->api->notifier) {
		/* silencedBy, inhibitedBy and ack from the notifier */
		struct vg_buf b = VG_BUF_INIT;
		vg_rules_render_alerts(c->api->rules, &b);
		vg_notifier_annotate_alerts(c->api->notifier, &b, &c->out);
		vg_buf_release(&b);
	} else if (c->api->rules)
		vg_rules_render_alerts(c->api->rules, &c->out);
	else
		vg_buf_puts(&c->out, "{\"alerts\":[]}");
	finish_success(c, false);
}

/* POST or PUT /-/reload, as Prometheus takes them: the rule files read
 * again; a refusal is 500 with the reason (file and line), as Prometheus
 * answers. */
static void handle_reload(struct ctx *c)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(c->req);
	struct vg_err err;

	if (cmd != EVHTTP_REQ_POST && cmd != EVHTTP_REQ_PUT) {
		method_not_allowed(c, ALLOW_ADMIN);
		return;
	}
	if (c->api->reload == NULL) {
		reply_error(c, 503, "unavailable", "reloading is not available");
		return;
	}
	vg_err_clear(&err);
	if (c->api->reload(c->api->reload_arg, &err) != 0) {
		struct vg_buf m = VG_BUF_INIT;
		vg_buf_printf(&m, "failed to reload config: %s", err.msg);
		reply_error(c, 500, "internal", vg_buf_failed(&m) ? "failed to reload config" : vg_buf_cstr(&m));
		vg_buf_release(&m);
		return;
	}
	vg_buf_reset(&c->out);
	send_body(c, 200, "text/plain; charset=utf-8");
}

/* --- routing -------------------------------------------------------------------- */

/* The method as the routes see it: a HEAD is answered as its GET would be
 * (RFC 9110, 9.3.2), headers and Content-Length included, and send_reply
 * leaves out the body. */
static enum evhttp_cmd_type method_of(struct evhttp_request *req)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	return cmd == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : cmd;
}

static bool is_form_post(struct evhttp_request *req)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	static const char form_type[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(form_type) - 1;

	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return strncasecmp(ct, form_type, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* Decodes the body (POST form) then the URL query into c->form. */
static bool read_params(struct ctx *c, const struct evhttp_uri *uri)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(c->req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct vg_err err;
	char msg[VG_ERR_MSG_MAX + 64];

	/* As Go's ParseForm: the body of a POST or a PUT. */
	if ((cmd == EVHTTP_REQ_POST || cmd == EVHTTP_REQ_PUT) && is_form_post(c->req)) {
		struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
		size_t len = evbuffer_get_length(in);
		const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";

		if (body == NULL) {
			reply_internal(c, "out of memory");
			return false;
		}
		if (vg_http_form_parse(&c->form, body, len, &err) != 0)
			goto fail;
	}
	if (query != NULL && vg_http_form_parse(&c->form, query, strlen(query), &err) != 0)
		goto fail;
	return true;
fail:
	if (err.code == VG_ENOMEM) {
		reply_internal(c, "out of memory");
	} else {
		snprintf(msg, sizeof(msg), "error parsing form values: %s", err.msg);
		bad_data(c, msg);
	}
	return false;
}

static void method_not_allowed(struct ctx *c, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Allow", allow);
	reply_error(c, 405, "bad_data", "method not allowed");
}

/* --- POST /api/v1/admin/seal: answered when the sealer has finished ------- */

struct seal_wait {
	struct vg_http_api *api;
	struct evhttp_request *req;
	struct event *ev;
	int rc;
	char msg[VG_ERR_MSG_MAX];
};

/* The sealer's thread: hand the outcome to this server's loop. */
static void seal_done(void *arg, int rc, const char *msg)
{
	struct seal_wait *w = arg;

	w->rc = rc;
	snprintf(w->msg, sizeof(w->msg), "%s", msg);
	event_active(w->ev, EV_TIMEOUT, 0);
}

static void seal_reply(evutil_socket_t fd, short what, void *arg)
{
	struct seal_wait *w = arg;
	struct ctx c = { .api = w->api, .req = w->req, .out = VG_BUF_INIT };

	(void)fd;
	(void)what;
	/* evhttp keeps a request whose client left until it is answered, and
	 * then frees it: the reply is always safe to send. */
	if (w->rc == 0) {
		begin_success(&c);
		vg_buf_puts(&c.out, "{}");
		finish_success(&c, false);
	} else {
		reply_error(&c, 503, "unavailable", w->msg);
	}
	vg_buf_release(&c.out);
	event_free(w->ev);
	free(w);
}

static void handle_seal(struct ctx *c)
{
	struct seal_wait *w;

	if (c->api->sealer == NULL) {
		reply_error(c, 503, "unavailable", "this receiver does not seal");
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL || (w->ev = event_new(c->api->base, -1, 0, seal_reply, w)) == NULL) {
		free(w);
		reply_internal(c, "out of memory");
		return;
	}
	w->api = c->api;
	w->req = c->req;
	if (vg_sealer_request(c->api->sealer, seal_done, w) != 0) {
		event_free(w->ev);
		free(w);
		reply_error(c, 503, "unavailable", "the receiver is stopping");
	}
}

/*
 * POST /api/v1/admin/tsdb/delete_series: match[] (one at least, each
 * with a matcher that does not match the empty string, as Prometheus
 * asks), start and end (default: all time; end is cut to now, so samples
 * that arrive later are kept). 204 once the deletion is durable
 * (storage.h, vg_storage_delete).
 */
static void handle_delete_series(struct ctx *c)
{
	struct vg_selector *sels = NULL;
	size_t n_sels = 0;
	int64_t start_ms, end_ms, now_ms = vg_clock_now_ms();
	struct vg_err err;

	if (vg_http_form_get(&c->form, "match[]", NULL) == NULL) {
		bad_data(c, "no match[] parameter provided");
		return;
	}
	if (!get_time(c, "start", INT64_MIN, &start_ms) || !get_time(c, "end", INT64_MAX, &end_ms) ||
	    !parse_matches(c, &sels, &n_sels, true))
		goto out;
	for (size_t i = 0; i < n_sels; i++) {
		bool is_selective = false;

		for (size_t m = 0; m < sels[i].n && !is_selective; m++)
			is_selective = !sels[i].m[m].matches_empty;
		if (!is_selective) {
			bad_data(c, "match[] must contain at least one non-empty matcher");
			goto out;
		}
	}
	if (end_ms > now_ms)
		end_ms = now_ms;
	if (end_ms < start_ms) {
		bad_data(c, "end timestamp must not be before start time");
		goto out;
	}
	if (vg_storage_delete(c->api->storage, sels, n_sels, start_ms, end_ms, &err) != 0) {
		reply_internal(c, err.msg);
		goto out;
	}
	vg_buf_reset(&c->out);
	send_body(c, 204, "application/json");
out:
	release_matches(sels, n_sels);
}

static void route_api(struct ctx *c, const char *path, const struct evhttp_uri *uri)
{
	enum evhttp_cmd_type cmd = method_of(c->req);
	bool is_get = cmd == EVHTTP_REQ_GET, is_post = cmd == EVHTTP_REQ_POST;
	/* Admin routes take PUT as well, as Prometheus's do. */
	bool is_admin_method = is_post || cmd == EVHTTP_REQ_PUT;
	const char *rest = path + strlen("/api/v1/");
	void (*post_ok)(struct ctx *) = NULL;

	if (strcmp(rest, "query") == 0)
		post_ok = handle_query;
	else if (strcmp(rest, "query_range") == 0)
		post_ok = handle_query_range;
	else if (strcmp(rest, "series") == 0)
		post_ok = handle_series;
	else if (strcmp(rest, "format_query") == 0)
		post_ok = handle_format_query;
	else if (strcmp(rest, "parse_query") == 0)
		post_ok = handle_parse_query;

	if (post_ok != NULL || strcmp(rest, "labels") == 0) {
		if (!is_get && !is_post) {
			method_not_allowed(c, ALLOW_GET_POST);
			return;
		}
		if (!read_params(c, uri))
			return;
		if (post_ok != NULL)
			post_ok(c);
		else
			handle_labels(c, NULL);
		return;
	}
	if (strncmp(rest, "label/", 6) == 0) {
		const char *seg = rest + 6, *slash = strchr(seg, '/');
		if (slash != NULL && slash > seg && strcmp(slash, "/values") == 0) {
			if (!is_get) {
				method_not_allowed(c, ALLOW_GET);
				return;
			}
			if (read_params(c, uri))
				handle_label_values(c, seg, (size_t)(slash - seg));
			return;
		}
	}
	if (strcmp(rest, "rules") == 0 || strcmp(rest, "alerts") == 0) {
		if (!is_get && !is_post) {
			method_not_allowed(c, ALLOW_GET_POST);
			return;
		}
		if (!read_params(c, uri))
			return;
		if (rest[0] == 'r')
			handle_rules(c);
		else
			handle_alerts(c);
		return;
	}
	if (strcmp(rest, "metadata") == 0 || strcmp(rest, "query_exemplars") == 0) {
		/* Vigil keeps neither metric metadata nor exemplars, so the
		 * true answer is empty; Grafana asks for both on start.
		 * /metadata is GET only, as Prometheus routes it. */
		if (!is_get && (!is_post || rest[0] == 'm')) {
			method_not_allowed(c, rest[0] == 'm' ? ALLOW_GET : ALLOW_GET_POST);
			return;
		}
		if (rest[0] == 'm') {
			if (read_params(c, uri))
				handle_metadata(c);
			return;
		}
		if (read_params(c, uri))
			handle_exemplars(c);
		return;
	}
	if (strcmp(path, VG_IMPORT_PATH) == 0) {
		/* import.c streams every import POST it can follow; evhttp
		 * sees the rest. */
		if (!is_post)
			method_not_allowed(c, ALLOW_POST);
		else
			reply_error(c, 400, "bad_data",
				    "this import request could not be streamed: send HTTP/1.1 with Content-Length or Transfer-Encoding: chunked");
		return;
	}
	/* Admin routes (admin/...): whatever guards the API for operators
	 * must cover these too. */
	if (strcmp(rest, "admin/seal") == 0) {
		if (!is_admin_method)
			method_not_allowed(c, ALLOW_ADMIN);
		else
			handle_seal(c);
		return;
	}
	if (strcmp(rest, "admin/tsdb/delete_series") == 0) {
		if (!is_admin_method)
			method_not_allowed(c, ALLOW_ADMIN);
		else if (read_params(c, uri))
			handle_delete_series(c);
		return;
	}
	if (strcmp(rest, "status/buildinfo") == 0) {
		if (!is_get)
			method_not_allowed(c, ALLOW_GET);
		else
			handle_buildinfo(c);
		return;
	}
	if (strcmp(rest, "status/vigil") == 0) {
		if (!is_get)
			method_not_allowed(c, ALLOW_GET);
		else
			handle_status(c);
		return;
	}
	reply_error(c, 404, "not_found", "unknown API endpoint");
}

/* Alertmanager's API v2 (receiver/alert/notifier_api.c): the body as
 * received, the answer as the notifier writes it. */
static void route_api_v2(struct ctx *c, const char *path, const struct evhttp_uri *uri)
{
	enum evhttp_cmd_type cmd = method_of(c->req);
	const char *method = cmd == EVHTTP_REQ_GET ? "GET" : cmd == EVHTTP_REQ_POST ? "POST"
			   : cmd == EVHTTP_REQ_DELETE ? "DELETE" : "OTHER";
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	size_t len = evbuffer_get_length(in);
	const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	int status;

	if (c->api->notifier == NULL) {
		reply_error(c, 404, "not_found", "no alerting: section in the configuration");
		return;
	}
	if (body == NULL) {
		reply_internal(c, "out of memory");
		return;
	}
	status = vg_notifier_http(c->api->notifier, method, path + strlen("/api/v2/"),
				  uri ? evhttp_uri_get_query(uri) : NULL, body, len, &c->out);
	send_body(c, status, "application/json");
}

/* The scope a path needs (auth.h), and whether it exists: OPTIONS is
 * answered only on paths that do. Paths that would change data need admin
 * whether or not this version serves them. */
struct route {
	bool exists;
	bool is_public; /* no credentials: /-/healthy, /-/ready */
	enum vg_http_scope scope;
};

static struct route lookup_route(const char *path)
{
	static const char *const reads[] = {
		"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
		"/api/v1/metadata", "/api/v1/query_exemplars", "/api/v1/status/buildinfo", "/metrics",
		"/api/v1/rules", "/api/v1/alerts",
		"/api/v1/format_query", "/api/v1/parse_query",
		"/api/v1/status/vigil",
	};
	struct route r = { false, false, VG_HTTP_SCOPE_READ };

	if (strcmp(path, "/-/healthy") == 0 || strcmp(path, "/-/ready") == 0) {
		r.exists = r.is_public = true;
		r.scope = VG_HTTP_SCOPE_NONE;
		return r;
	}
	if (strncmp(path, "/api/v1/admin/", 14) == 0 || strncmp(path, "/api/v1/import/", 15) == 0 ||
	    strcmp(path, "/-/reload") == 0 || strcmp(path, "/-/quit") == 0 ||
	    strcmp(path, "/api/v1/write") == 0 || strcmp(path, "/api/v1/push") == 0 ||
	    strncmp(path, "/api/v1/silences", 16) == 0) {
		r.scope = VG_HTTP_SCOPE_ADMIN;
		r.exists = strcmp(path, "/api/v1/admin/seal") == 0 || strcmp(path, VG_IMPORT_PATH) == 0 ||
			   strcmp(path, "/-/reload") == 0;
		return r;
	}
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
		if (strcmp(path, reads[i]) == 0)
			r.exists = true;
	if (strncmp(path, "/api/v2/", 8) == 0)
		r.exists = true; /* scope by method: on_request */
	if (strncmp(path, "/api/v1/label/", 14) == 0) {
		const char *seg = path + 14, *slash = strchr(seg, '/');
		r.exists = slash != NULL && slash > seg && strcmp(slash, "/values") == 0;
	}
	return r;
}

/* 401 (no or a wrong credential) or 403 (too small a scope); false
 * after replying. */
static bool authorize(struct ctx *c, const struct route *rt)
{
	struct evkeyvalq *h;
	enum vg_http_scope got;

	if (!vg_http_auth_is_on(&c->api->auth) || rt->is_public)
		return true;
	got = vg_http_auth_check(&c->api->auth,
				 evhttp_find_header(evhttp_request_get_input_headers(c->req), "Authorization"));
	if (got >= rt->scope)
		return true;
	atomic_fetch_add_explicit(&c->api->stats->http_auth_refused, 1, memory_order_relaxed);
	if (got == VG_HTTP_SCOPE_NONE) {
		h = evhttp_request_get_output_headers(c->req);
		evhttp_add_header(h, "WWW-Authenticate", "Bearer realm=\"vigil\"");
		evhttp_add_header(h, "WWW-Authenticate", "Basic realm=\"vigil\", charset=\"UTF-8\"");
		reply_error(c, 401, "unauthorized", "authentication required");
	} else {
		reply_error(c, 403, "forbidden", "this credential may read, not administer");
	}
	return false;
}

static void handle_health(struct ctx *c, const char *path)
{
	if (method_of(c->req) != EVHTTP_REQ_GET) {
		method_not_allowed(c, ALLOW_GET);
		return;
	}
	if (strcmp(path, "/-/healthy") == 0) {
		vg_buf_puts(&c->out, "Vigil is Healthy.\n");
		send_body(c, 200, "text/plain; charset=utf-8");
	} else if (atomic_load(&c->api->is_ready)) {
		vg_buf_puts(&c->out, "Vigil is Ready.\n");
		send_body(c, 200, "text/plain; charset=utf-8");
	} else {
		reply_error(c, 503, "unavailable", "not ready: the WAL is being replayed");
	}
}

/* GET of a web page's file (web.h); nothing outside its table. The path
 * is the request line's own (up to '?'), not evhttp's parse of it, which
 * reads "//x" as an authority and an empty path. */
static void handle_web(struct ctx *c, const char *path)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	const char *inm = evhttp_find_header(evhttp_request_get_input_headers(c->req), "If-None-Match");
	const char *raw = evhttp_request_get_uri(c->req);
	struct vg_buf line = VG_BUF_INIT;
	struct vg_web_reply r;

	if (raw != NULL && raw[0] == '/') {
		vg_buf_append(&line, raw, strcspn(raw, "?#"));
		if (vg_buf_failed(&line)) {
			reply_internal(c, "out of memory");
			return;
		}
		path = vg_buf_cstr(&line);
	}
	vg_web_lookup(c->api->web, path, inm, &r);
	vg_buf_release(&line);
	if (r.status == 400 || r.status == 404) {
		reply_error(c, r.status, r.status == 400 ? "bad_data" : "not_found", r.reason);
		return;
	}
	if (method_of(c->req) != EVHTTP_REQ_GET) {
		method_not_allowed(c, ALLOW_GET);
		return;
	}
	evhttp_add_header(h, "ETag", r.etag);
	evhttp_add_header(h, "Cache-Control", r.cache_control);
	evhttp_add_header(h, "Content-Security-Policy", vg_web_csp);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "same-origin");
	if (r.status == 304) {
		evhttp_send_reply(c->req, 304, NULL, NULL);
		return;
	}
	evhttp_add_header(h, "Content-Type", r.content_type);
	/* Borrowed: the vg_web outlives every connection (stop frees it
	 * after the base). */
	evbuffer_add_reference(evhttp_request_get_output_buffer(c->req), r.body, r.len, NULL, NULL);
	send_reply(c->req, 200);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct ctx c = { .api = arg, .req = req, .out = VG_BUF_INIT };
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct route rt;

	atomic_fetch_add_explicit(&c.api->stats->http_requests, 1, memory_order_relaxed);
	if (path == NULL || *path == '\0')
		path = "/";
	rt = lookup_route(path);
	if (!rt.exists && vg_web_has(c.api->web, path))
		rt.exists = true; /* a web page's file: read scope */
	if (strncmp(path, "/api/v2/", 8) == 0 && method_of(req) != EVHTTP_REQ_GET)
		rt.scope = VG_HTTP_SCOPE_ADMIN; /* silences and alerts change state */
	if (evhttp_request_get_command(req) == EVHTTP_REQ_OPTIONS) {
		/* CORS preflight, on real paths: the headers say it all.
		 * Browsers send it without credentials. */
		if (rt.exists) {
			vg_buf_puts(&c.out, "{\"status\":\"success\"}");
			send_json(&c, 200);
		} else {
			reply_error(&c, 404, "not_found", "unknown path");
		}
	} else if (!authorize(&c, &rt)) {
		/* answered */
	} else if (rt.is_public) {
		handle_health(&c, path);
	} else if (strncmp(path, "/api/v1/", 8) == 0) {
		route_api(&c, path, uri);
	} else if (strcmp(path, "/-/reload") == 0) {
		handle_reload(&c);
	} else if (strncmp(path, "/api/v2/", 8) == 0) {
		route_api_v2(&c, path, uri);
	} else if (strcmp(path, "/metrics") == 0) {
		if (method_of(req) != EVHTTP_REQ_GET)
			method_not_allowed(&c, ALLOW_GET);
		else
			handle_metrics(&c);
	} else {
		handle_web(&c, path);
	}
	vg_http_form_release(&c.form);
	vg_buf_release(&c.out);
}

/* --- lifecycle ------------------------------------------------------------------ */

/* libevent 2.1 calls a listener's error callback with the evhttp as its
 * argument, which has no user pointer: the HTTP thread keeps its server
 * here. Set once by run() on that thread, read only there. */
static _Thread_local struct vg_http_api *thread_api;

/* As the agent listener (ingest.c): at the fd limit pause, count, log
 * once in a while, retry; never spin on a readable listening socket. */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct vg_http_api *api = thread_api;
	int e = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };

	(void)arg;
	evconnlistener_disable(l);
	if (api == NULL)
		return;
	atomic_fetch_add_explicit(&api->stats->accept_pauses[VG_LISTENER_HTTP], 1, memory_order_relaxed);
	vg_log_complain(&api->accept_complaint, VG_LOG_ERROR,
			"accepting HTTP connections: %s; pausing the listener",
			evutil_socket_error_to_string(e));
	evtimer_add(api->accept_retry_ev, &tv);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_http_api *api = arg;

	(void)fd;
	(void)what;
	if (!api->is_full)
		evconnlistener_enable(api->listener);
}

/* import.c: the connections reached http_max_connections, or one went.
 * Past the cap, connections wait in the kernel's backlog. */
static void on_full(void *arg, bool is_full)
{
	struct vg_http_api *api = arg;

	api->is_full = is_full;
	if (api->listener == NULL)
		return;
	if (is_full) {
		atomic_fetch_add_explicit(&api->stats->http_conn_pauses, 1, memory_order_relaxed);
		evconnlistener_disable(api->listener);
	} else if (!evtimer_pending(api->accept_retry_ev, NULL)) {
		evconnlistener_enable(api->listener);
	}
}

static void *run(void *arg)
{
	struct vg_http_api *api = arg;

	thread_api = api;
	event_base_dispatch(api->base);
	return NULL;
}

/* The HTTP listener's backlog, as the agent listener's (ingest.c):
 * evhttp's own bind asks for 128, and SYNs past a full backlog are
 * dropped and retried only after 1, 3, 7 s, which a dashboard's burst of
 * panel queries on reconnect would wait for. */
#define HTTP_BACKLOG 1024

/* Binds host:port with that backlog and hands the socket to evhttp. NULL
 * with errno set when no address of host would bind. */
static struct evhttp_bound_socket *bind_http(struct evhttp *http, struct event_base *base, const char *host,
					     uint16_t port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	struct evhttp_bound_socket *bound = NULL;
	char service[8];
	int e = EADDRNOTAVAIL;

	snprintf(service, sizeof(service), "%u", (unsigned)port);
	if (getaddrinfo(host, service, &hints, &res) != 0) {
		errno = EADDRNOTAVAIL;
		return NULL;
	}
	for (struct addrinfo *ai = res; ai && bound == NULL; ai = ai->ai_next) {
		struct evconnlistener *l;
		errno = 0;
		l = evconnlistener_new_bind(base, NULL, NULL,
					    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
					    HTTP_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
		if (l == NULL) {
			e = errno ? errno : EADDRNOTAVAIL;
			continue;
		}
		if ((bound = evhttp_bind_listener(http, l)) == NULL) {
			evconnlistener_free(l);
			e = ENOMEM;
		}
	}
	freeaddrinfo(res);
	if (bound == NULL)
		errno = e;
	return bound;
}

static uint16_t bound_port(struct evhttp_bound_socket *bound)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(bound);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

int vg_http_api_start(const struct vg_http_api_options *opts, struct vg_http_api **out,
		      struct vg_err *err)
{
	struct vg_http_api *api;
	struct evhttp_bound_socket *bound;
	/* "All addresses" as the agent listener takes it: the IPv6 wildcard,
	 * which takes IPv4 too on Linux, or IPv4's where IPv6 is off. */
	bool is_any = opts->host == NULL || *opts->host == '\0';
	const char *host = is_any ? "::" : opts->host;
	int rc;

	*out = NULL;
	if (opts->head == NULL || opts->storage == NULL || opts->stats == NULL)
		return vg_err_set(err, VG_EINVAL, "HTTP API needs a head and stats");
	/* Threading must be on before the base exists, so that stop can wake
	 * the loop from another thread. Repeating the call with the same
	 * callbacks is harmless (libevent keeps the first set). */
	if (evthread_use_pthreads() != 0)
		return vg_err_set(err, VG_EIO, "cannot enable libevent threading");
	api = calloc(1, sizeof(*api));
	if (api == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	api->head = opts->head;
	api->storage = opts->storage;
	api->sealer = opts->sealer;
	api->stats = opts->stats;
	api->rules = opts->rules;
	api->reload = opts->reload;
	api->reload_arg = opts->reload_arg;
	api->notifier = opts->notifier;
	api->lookback_ms = opts->lookback_ms > 0 ? opts->lookback_ms : DEFAULT_LOOKBACK_MS;
	api->query_timeout_ms = opts->query_timeout_ms;
	api->query_max_samples = opts->query_max_samples;
	api->query_max_series = opts->query_max_series;
	api->query_max_response_bytes = opts->query_max_response_bytes;
	api->query_max_queued = opts->query_max_queued ? opts->query_max_queued : DEFAULT_QUERY_MAX_QUEUED;
	{
		struct vg_query_pool_options po = {
			.max_concurrency = opts->query_max_concurrency ? opts->query_max_concurrency
								       : vg_query_pool_default_concurrency(),
			.max_queued = api->query_max_queued,
		};
		if ((rc = vg_query_pool_start(&po, &api->pool, err)) != 0)
			goto fail;
	}
	if ((rc = vg_web_open(opts->web_assets_dir, &api->web, err)) != 0)
		goto fail;
	if ((rc = vg_http_cors_init(&api->cors, opts->cors_origin, err)) != 0 ||
	    (rc = vg_http_auth_init(&api->auth, &opts->auth, err)) != 0)
		goto fail;
	if (opts->tls_cert_file &&
	    (rc = vg_tls_server_new(opts->tls_cert_file, opts->tls_key_file, opts->tls_client_ca_file, &api->tls,
				    err)) != 0) {
		vg_err_prefix(err, "HTTPS"); /* its message names the agent's tls_* keys */
		goto fail;
	}
	api->base = event_base_new();
	api->http = api->base ? evhttp_new(api->base) : NULL;
	if (api->http == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "cannot create the HTTP server");
		goto fail;
	}
	{
		uint64_t max_head = opts->max_header_bytes ? opts->max_header_bytes : MAX_HEADERS_BYTES;
		uint64_t max_body = opts->max_body_bytes ? opts->max_body_bytes : MAX_BODY_BYTES;
		int timeout_s = opts->timeout_ms > 0 ? (int)((opts->timeout_ms + 999) / 1000) : REQUEST_TIMEOUT_S;
		struct vg_import_options iopts = {
			.base = api->base, .submit = opts->submit, .stats = opts->stats,
			.max_headers_bytes = max_head, .timeout_s = timeout_s,
			.max_body_bytes = max_body,
			.max_header_count = opts->max_header_fields ? opts->max_header_fields : MAX_HEADER_FIELDS,
			.cors = &api->cors, .auth = &api->auth,
			.head_timeout_ms = opts->header_timeout_ms > 0 ? opts->header_timeout_ms
								       : HEADER_TIMEOUT_MS,
			.max_connections = opts->max_connections, .on_full = on_full, .on_full_arg = api,
			.tls = api->tls,
		};

		/* The filter (import.c) refuses past these limits first, in
		 * JSON; evhttp's own are the same, as a second line. */
		evhttp_set_max_headers_size(api->http, (ev_ssize_t)max_head);
		evhttp_set_max_body_size(api->http, (ev_ssize_t)max_body);
		evhttp_set_timeout(api->http, timeout_s);
		evhttp_set_allowed_methods(api->http, VG_IMPORT_EVHTTP_METHODS);
		evhttp_set_gencb(api->http, on_request, api);
		if ((rc = vg_import_new(&iopts, &api->import, err)) != 0)
			goto fail;
		evhttp_set_bevcb(api->http, vg_import_bevcb, api->import);
	}
	errno = 0;
	bound = bind_http(api->http, api->base, host, opts->port);
	if (bound == NULL && is_any) {
		host = "0.0.0.0";
		errno = 0;
		bound = bind_http(api->http, api->base, host, opts->port);
	}
	if (bound == NULL) {
		rc = vg_err_set(err, VG_EIO, "cannot listen for HTTP on %s:%u: %s", host,
				(unsigned)opts->port, errno ? strerror(errno) : "bind failed");
		goto fail;
	}
	api->port = bound_port(bound);
	api->listener = evhttp_bound_socket_get_listener(bound);
	api->accept_retry_ev = evtimer_new(api->base, accept_retry_cb, api);
	if (api->accept_retry_ev == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	evconnlistener_set_error_cb(api->listener, accept_error_cb);
	vg_status_rate_init(&api->status_rate, api->stats->start_time_ms);
	api->status_tick_ev = event_new(api->base, -1, EV_PERSIST, status_tick, api);
	{
		struct timeval every = { VG_STATUS_TICK_MS / 1000, 0 };
		if (api->status_tick_ev == NULL || event_add(api->status_tick_ev, &every) != 0) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto fail;
		}
	}
	if (pthread_create(&api->thread, NULL, run, api) != 0) {
		rc = vg_err_set(err, VG_EIO, "cannot start the HTTP thread");
		goto fail;
	}
	api->has_thread = true;
	*out = api;
	return 0;
fail:
	vg_http_api_stop(api);
	return rc;
}

void vg_http_api_set_ready(struct vg_http_api *api)
{
	atomic_store(&api->is_ready, true);
}

uint16_t vg_http_api_port(const struct vg_http_api *api)
{
	return api->port;
}

void vg_http_api_stop_queries(struct vg_http_api *api)
{
	if (api != NULL)
		vg_query_pool_stop(api->pool);
}

void vg_http_api_stop(struct vg_http_api *api)
{
	if (api == NULL)
		return;
	/* Running queries are canceled, not waited for; their answers (and
	 * those of queries that never ran) go to the loop while it still
	 * runs, and whatever it did not send is freed below. */
	vg_http_api_stop_queries(api);
	if (api->has_thread) {
		/* loopexit, unlike loopbreak, is not lost if the loop has not
		 * started running yet. */
		event_base_loopexit(api->base, NULL);
		pthread_join(api->thread, NULL);
	}
	vg_query_pool_free(api->pool);
	while (api->jobs != NULL) {
		struct query_job *q = api->jobs;
		api->jobs = q->next;
		release_client(q); /* evhttp_free below frees the connection */
		query_job_free(q); /* its request goes with the connections */
	}
	if (api->accept_retry_ev != NULL)
		event_free(api->accept_retry_ev);
	if (api->status_tick_ev != NULL)
		event_free(api->status_tick_ev);
	if (api->http != NULL)
		evhttp_free(api->http);
	/* The import's events go before the base; the rest after it, since
	 * freeing the base frees the connections' filters, which tell the
	 * import its connections are gone. */
	vg_import_stop(api->import);
	if (api->base != NULL)
		event_base_free(api->base);
	vg_import_free(api->import);
	vg_tls_server_free(api->tls); /* after the connections' SSLs */
	vg_http_auth_release(&api->auth);
	vg_http_cors_release(&api->cors);
	vg_web_free(api->web);
	free(api);
}
