/*
 * scrape.c: local scrapes (scrape.h) with a dlopen()ed libcurl driven by
 * the agent's event loop.
 *
 * The loop and curl meet in libcurl's multi-socket interface: curl tells
 * which sockets it waits on (socket_cb: one event per socket, kept in
 * curl's per-socket pointer) and when it next wants a call (timer_cb: one
 * timer); each event hands the socket back to curl_multi_socket_action,
 * and finished transfers are collected from curl_multi_info_read
 * (check_done). Nothing here waits.
 *
 * Per target one easy handle, reused so connections stay open, and one
 * body buffer. A scrape is checked whole (every line parses, no line too
 * long) before anything of it is delivered; the deliver callback parses
 * the body a second time into its sink, as the textfile collector does.
 *
 * Invariants: a target has at most one transfer in flight (is_busy); its
 * timer is re-armed when the transfer ends, so a slow target is scraped
 * less often rather than piling up. Every pointer of the curl table is set
 * before any target exists.
 */
#include "agent/collect/scrape.h"
#include "common/dl.h"
#include "agent/collect/collect.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/exposition.h"
#include "common/log.h"
#include "common/series.h"

#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "common/banned.h"

#define LIBCURL_SONAME "libcurl.so.4"
#define DEFAULT_BODY_LIMIT (16u << 20)
/* Every series a scrape brings stays in the agent's dictionary: bound it. */
#define DEFAULT_SAMPLE_LIMIT 50000

struct curl_api {
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_multi_init) *multi_init;
	__typeof__(curl_multi_cleanup) *multi_cleanup;
	__typeof__(curl_multi_setopt) *multi_setopt;
	__typeof__(curl_multi_add_handle) *multi_add_handle;
	__typeof__(curl_multi_remove_handle) *multi_remove_handle;
	__typeof__(curl_multi_socket_action) *multi_socket_action;
	__typeof__(curl_multi_info_read) *multi_info_read;
	__typeof__(curl_multi_assign) *multi_assign;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
};

struct target {
	struct vg_scrape *s;
	char *job, *url;
	int64_t interval_ms, timeout_ms;
	uint64_t body_limit, sample_limit;
	struct vg_label *extra;     /* job, instance removed, the target's labels */
	size_t n_extra;
	char **label_store;         /* the strings extra points into */
	size_t n_label_store;
	CURL *easy;
	struct event *timer;
	struct vg_buf body;
	bool is_busy, is_too_large;
	int64_t start_mono_ms, start_ms;
	struct vg_complaint complaint;
};

struct vg_scrape_result {
	const struct target *t;
	bool is_ok;
	double duration_s;
	uint64_t n_samples;
	char error[VG_ERR_MSG_MAX + 64];
};

struct vg_scrape {
	struct curl_api api;
	CURLM *multi;
	struct curl_slist *headers;
	struct event_base *base;
	struct event *curl_timer;
	struct target *targets;
	size_t n_targets;
	void (*deliver)(void *arg, int64_t ts_ms, const struct vg_scrape_result *r);
	void *arg;
};

/* Loads libcurl into a's table: its handle, or NULL with err set. */
static void *load_api(struct curl_api *a, struct vg_err *err)
{
	const struct vg_dl_sym syms[] = {
		VG_DL_SYM(a->easy_init, curl_easy_init),
		VG_DL_SYM(a->easy_cleanup, curl_easy_cleanup),
		VG_DL_SYM(a->easy_setopt, curl_easy_setopt),
		VG_DL_SYM(a->easy_getinfo, curl_easy_getinfo),
		VG_DL_SYM(a->easy_strerror, curl_easy_strerror),
		VG_DL_SYM(a->multi_init, curl_multi_init),
		VG_DL_SYM(a->multi_cleanup, curl_multi_cleanup),
		VG_DL_SYM(a->multi_setopt, curl_multi_setopt),
		VG_DL_SYM(a->multi_add_handle, curl_multi_add_handle),
		VG_DL_SYM(a->multi_remove_handle, curl_multi_remove_handle),
		VG_DL_SYM(a->multi_socket_action, curl_multi_socket_action),
		VG_DL_SYM(a->multi_info_read, curl_multi_info_read),
		VG_DL_SYM(a->multi_assign, curl_multi_assign),
		VG_DL_SYM(a->slist_append, curl_slist_append),
		VG_DL_SYM(a->slist_free_all, curl_slist_free_all),
	};

	return vg_dl_open(LIBCURL_SONAME, "libcurl4", "scrape", syms, sizeof(syms) / sizeof(syms[0]), err);
}

bool vg_scrape_is_loaded(void)
{
	void *h = dlopen(LIBCURL_SONAME, RTLD_LAZY | RTLD_NOLOAD);

	if (h == NULL)
		return false;
	dlclose(h);
	return true;
}

/* --- checking a body whole ------------------------------------------------ */

struct check {
	uint64_t samples, limit, bad_line;
	char reason[200];
};

static int check_sample(void *ctx, const struct vg_exposition_sample *smp)
{
	struct check *c = ctx;

	(void)smp;
	/* Past the limit the scrape fails anyway: stop reading. */
	return ++c->samples > c->limit ? 1 : 0;
}

static int check_error(void *ctx, uint64_t line, int code, const char *reason)
{
	struct check *c = ctx;

	(void)code;
	if (c->bad_line == 0) {
		c->bad_line = line;
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
	}
	return 1; /* one bad line refuses the scrape: stop reading */
}

struct emit {
	struct vg_sample_sink *sink;
	struct vg_err *err;
};

static int emit_sample(void *ctx, const struct vg_exposition_sample *smp)
{
	struct emit *e = ctx;
	struct vg_series copy = *smp->series;

	return vg_collect_emit(e->sink, &copy, smp->value, e->err);
}

static int parse_body(const struct target *t, int (*on_sample)(void *, const struct vg_exposition_sample *),
		      int (*on_error)(void *, uint64_t, int, const char *), void *ctx, struct vg_err *err)
{
	struct vg_exposition_config cfg;
	struct vg_exposition *p;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.extra_labels = t->extra;
	cfg.n_extra_labels = t->n_extra;
	cfg.on_sample = on_sample;
	cfg.on_error = on_error;
	cfg.ctx = ctx;
	if ((rc = vg_exposition_new(&cfg, &p, err)) != 0)
		return rc;
	rc = vg_exposition_feed(p, t->body.data, t->body.len);
	if (rc == 0)
		rc = vg_exposition_finish(p);
	vg_exposition_free(p);
	return rc;
}

/* --- results ---------------------------------------------------------------- */

/* One of the target's own series: job and the target's labels. */
static int emit_own(const struct target *t, struct vg_sample_sink *sink, const char *name, double v,
		    struct vg_err *err)
{
	struct vg_series s;

	vg_series_init(&s, name);
	for (size_t i = 0; i < t->n_extra; i++)
		if (t->extra[i].value.len > 0 && vg_series_add_str(&s, t->extra[i].name, t->extra[i].value) != 0)
			return vg_err_set(err, VG_ELIMIT, "scrape %s: too many labels", t->job);
	return vg_collect_emit(sink, &s, v, err);
}

int vg_scrape_result_emit(const struct vg_scrape_result *r, struct vg_sample_sink *sink, struct vg_err *err)
{
	struct emit e = { sink, err };
	int rc;

	if (r->is_ok && (rc = parse_body(r->t, emit_sample, NULL, &e, err)) != 0)
		return rc;
	if ((rc = emit_own(r->t, sink, "up", r->is_ok ? 1 : 0, err)) != 0 ||
	    (rc = emit_own(r->t, sink, "scrape_duration_seconds", r->duration_s, err)) != 0)
		return rc;
	return emit_own(r->t, sink, "scrape_samples_scraped", (double)r->n_samples, err);
}

const char *vg_scrape_result_job(const struct vg_scrape_result *r)
{
	return r->t->job;
}

const char *vg_scrape_result_error(const struct vg_scrape_result *r)
{
	return r->is_ok ? NULL : r->error;
}

/* --- transfers -------------------------------------------------------------- */

static void arm(struct target *t, int64_t delay_ms)
{
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };

	evtimer_add(t->timer, &tv);
}

/* A transfer ended with code: check the body, deliver, re-arm. */
static void finish(struct target *t, CURLcode code)
{
	struct vg_scrape *s = t->s;
	struct vg_scrape_result r;
	struct check chk = { 0, t->sample_limit, 0, "" };
	long status = 0;
	char *ctype = NULL;
	struct vg_err err;
	int64_t next;
	int rc;

	memset(&r, 0, sizeof(r));
	r.t = t;
	s->api.easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	s->api.easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ctype);
	if (t->is_too_large) {
		snprintf(r.error, sizeof(r.error), "the body is larger than %llu bytes",
			 (unsigned long long)t->body_limit);
	} else if (code != CURLE_OK) {
		snprintf(r.error, sizeof(r.error), "%s", s->api.easy_strerror(code));
	} else if (status != 200) {
		snprintf(r.error, sizeof(r.error), "HTTP status %ld", status);
	} else if (ctype && strncmp(ctype, "application/openmetrics-text", 28) == 0) {
		snprintf(r.error, sizeof(r.error), "OpenMetrics (%s) is not supported; serve text/plain", ctype);
	} else if (vg_buf_failed(&t->body)) {
		snprintf(r.error, sizeof(r.error), "out of memory");
	} else if ((rc = parse_body(t, check_sample, check_error, &chk, &err)) != 0 && chk.bad_line == 0 &&
		   chk.samples <= t->sample_limit) {
		/* Not a callback's stop: the parser's own failure. */
		snprintf(r.error, sizeof(r.error), "%s", rc == VG_ENOMEM ? "out of memory" : err.msg);
	} else if (chk.bad_line != 0) {
		snprintf(r.error, sizeof(r.error), "line %llu: %s; the scrape is skipped whole",
			 (unsigned long long)chk.bad_line, chk.reason);
	} else if (chk.samples > t->sample_limit) {
		snprintf(r.error, sizeof(r.error), "more than sample_limit (%llu) samples; the scrape is skipped whole",
			 (unsigned long long)t->sample_limit);
	} else {
		r.is_ok = true;
		r.n_samples = chk.samples;
	}
	r.duration_s = (double)(vg_clock_mono_ms() - t->start_mono_ms) / 1000.0;
	if (r.is_ok)
		vg_log_relief(&t->complaint, "scrape of %s (job %s) works again", t->url, t->job);
	else
		vg_log_complain(&t->complaint, VG_LOG_WARN, "scrape of %s (job %s) failed: %s", t->url, t->job,
				r.error);
	t->is_busy = false;
	s->deliver(s->arg, t->start_ms, &r);
	/* The next scrape one interval after this one started. */
	next = t->start_mono_ms + t->interval_ms - vg_clock_mono_ms();
	arm(t, next > 0 ? next : 0);
}

static void check_done(struct vg_scrape *s)
{
	CURLMsg *m;
	int left;

	while ((m = s->api.multi_info_read(s->multi, &left)) != NULL) {
		struct target *t = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *easy = m->easy_handle;
		CURLcode code = m->data.result;
		s->api.easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
		s->api.multi_remove_handle(s->multi, easy);
		if (t)
			finish(t, code);
	}
}

static void socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_scrape *s = arg;
	int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;

	s->api.multi_socket_action(s->multi, fd, flags, &running);
	check_done(s);
}

/* curl: wait on sock for what (CURL_POLL_*); sockp is our event. */
static int socket_cb(CURL *easy, curl_socket_t sock, int what, void *userp, void *sockp)
{
	struct vg_scrape *s = userp;
	struct event *ev = sockp;
	short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0));

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (ev)
			event_free(ev);
		s->api.multi_assign(s->multi, sock, NULL);
		return 0;
	}
	if (ev) {
		event_del(ev);
		event_assign(ev, s->base, sock, kind | EV_PERSIST, socket_event_cb, s);
	} else if ((ev = event_new(s->base, sock, kind | EV_PERSIST, socket_event_cb, s)) == NULL) {
		return -1;
	}
	s->api.multi_assign(s->multi, sock, ev);
	event_add(ev, NULL);
	return 0;
}

static void curl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_scrape *s = arg;
	int running;

	(void)fd;
	(void)what;
	s->api.multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(s);
}

/* curl: call back in timeout_ms (-1: no timer). */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct vg_scrape *s = userp;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	(void)multi;
	if (timeout_ms < 0)
		evtimer_del(s->curl_timer);
	else
		evtimer_add(s->curl_timer, &tv);
	return 0;
}

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct target *t = arg;
	size_t len = size * n;

	if (t->body.len + len > t->body_limit) {
		t->is_too_large = true;
		return 0; /* curl stops the transfer */
	}
	vg_buf_append(&t->body, p, len);
	return vg_buf_failed(&t->body) ? 0 : len;
}

static void start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target *t = arg;
	struct vg_scrape *s = t->s;
	CURLMcode mc;

	(void)fd;
	(void)what;
	if (t->is_busy)
		return;
	vg_buf_reset(&t->body);
	t->is_too_large = false;
	t->start_mono_ms = vg_clock_mono_ms();
	t->start_ms = vg_clock_now_ms();
	if ((mc = s->api.multi_add_handle(s->multi, t->easy)) != CURLM_OK) {
		vg_log_complain(&t->complaint, VG_LOG_ERROR, "scrape of %s: cannot start (curl multi error %d)", t->url,
				(int)mc);
		arm(t, t->interval_ms);
		return;
	}
	t->is_busy = true;
}

/* --- setup ------------------------------------------------------------------ */

static int target_init(struct vg_scrape *s, struct target *t, const struct vg_scrape_target *c,
		       struct vg_err *err)
{
	const struct curl_api *a = &s->api;
	size_t n = c->labels.n + 2;

	t->s = s;
	t->complaint = (struct vg_complaint)VG_COMPLAINT_INIT;
	t->interval_ms = c->interval_ms;
	t->timeout_ms = c->timeout_ms;
	t->body_limit = c->body_limit_bytes ? c->body_limit_bytes : DEFAULT_BODY_LIMIT;
	t->sample_limit = c->sample_limit ? c->sample_limit : DEFAULT_SAMPLE_LIMIT;
	vg_buf_init(&t->body);
	t->job = strdup(c->job);
	t->url = strdup(c->url);
	t->extra = calloc(n, sizeof(*t->extra));
	t->label_store = calloc(2 * c->labels.n + 1, sizeof(*t->label_store));
	if (t->job == NULL || t->url == NULL || t->extra == NULL || t->label_store == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	/* Replaced, as Prometheus's honor_labels: false would keep them as
	 * exported_*: the job is the target's, the instance the host's. */
	t->extra[t->n_extra++] = (struct vg_label){ vg_str_c("job"), vg_str_c(t->job) };
	t->extra[t->n_extra++] = (struct vg_label){ vg_str_c("instance"), vg_str_c("") };
	for (size_t i = 0; i < c->labels.n; i++) {
		char *name = strdup(c->labels.names[i]), *value = strdup(c->labels.values[i]);
		if (name)
			t->label_store[t->n_label_store++] = name;
		if (value)
			t->label_store[t->n_label_store++] = value;
		if (name == NULL || value == NULL)
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		t->extra[t->n_extra++] = (struct vg_label){ vg_str_c(name), vg_str_c(value) };
	}
	if ((t->easy = a->easy_init()) == NULL)
		return vg_err_set(err, VG_ENOMEM, "scrape %s: cannot make a curl handle", t->job);
	a->easy_setopt(t->easy, CURLOPT_URL, t->url);
	a->easy_setopt(t->easy, CURLOPT_PRIVATE, (void *)t);
	a->easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, write_cb);
	a->easy_setopt(t->easy, CURLOPT_WRITEDATA, (void *)t);
	a->easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
	a->easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	a->easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	a->easy_setopt(t->easy, CURLOPT_ACCEPT_ENCODING, "");
	a->easy_setopt(t->easy, CURLOPT_HTTPHEADER, s->headers);
	a->easy_setopt(t->easy, CURLOPT_USERAGENT, "vigil-agent/" PACKAGE_VERSION);
	if ((t->timer = evtimer_new(s->base, start_cb, t)) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	/* The first scrape within the first interval, spread over it. */
	arm(t, (int64_t)(vg_random_u64() % (uint64_t)(t->interval_ms > 0 ? t->interval_ms : 1)));
	return 0;
}

static void target_release(struct vg_scrape *s, struct target *t)
{
	if (t->easy) {
		if (t->is_busy)
			s->api.multi_remove_handle(s->multi, t->easy);
		s->api.easy_cleanup(t->easy);
	}
	if (t->timer)
		event_free(t->timer);
	for (size_t i = 0; i < t->n_label_store; i++)
		free(t->label_store[i]);
	free(t->label_store);
	free(t->extra);
	free(t->job);
	free(t->url);
	vg_buf_release(&t->body);
}

int vg_scrape_new(const struct vg_scrape_options *opts, struct vg_scrape **out, struct vg_err *err)
{
	struct vg_scrape *s;
	int rc;

	*out = NULL;
	if (opts->n_targets == 0)
		return 0;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	s->base = opts->base;
	s->deliver = opts->deliver;
	s->arg = opts->arg;
	/* Never closed: curl's global state stays for the process. */
	if (load_api(&s->api, err) == NULL) {
		rc = VG_ENOENT;
		goto fail;
	}
	s->multi = s->api.multi_init();
	s->curl_timer = evtimer_new(s->base, curl_timer_cb, s);
	s->headers = s->api.slist_append(NULL, "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1");
	s->targets = calloc(opts->n_targets, sizeof(*s->targets));
	if (s->multi == NULL || s->curl_timer == NULL || s->headers == NULL || s->targets == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	s->api.multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	s->api.multi_setopt(s->multi, CURLMOPT_SOCKETDATA, (void *)s);
	s->api.multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	s->api.multi_setopt(s->multi, CURLMOPT_TIMERDATA, (void *)s);
	for (size_t i = 0; i < opts->n_targets; i++) {
		s->n_targets = i + 1;
		if ((rc = target_init(s, &s->targets[i], &opts->targets[i], err)) != 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	vg_scrape_free(s);
	return rc;
}

void vg_scrape_free(struct vg_scrape *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_targets; i++)
		target_release(s, &s->targets[i]);
	free(s->targets);
	/* Frees the sockets' events through socket_cb (CURL_POLL_REMOVE). */
	if (s->multi)
		s->api.multi_cleanup(s->multi);
	if (s->headers)
		s->api.slist_free_all(s->headers);
	if (s->curl_timer)
		event_free(s->curl_timer);
	free(s);
}
