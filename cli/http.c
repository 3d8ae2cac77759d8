/*
 * http.c: one request to the receiver's HTTP API with libcurl, and the
 * check of the answer's envelope (http.h).
 *
 * Owns: the URL and form encoding, the transport (timeouts, User-Agent, a
 * bound on the body), telling "no answer" from "not the API" from "the API
 * said no". Does not own what is in "data": output.c reads that.
 *
 * Invariant: a document is handed to the caller only with status "success";
 * every other outcome is one error with a one-line message that names the
 * server or URL, so the caller prints it and never a partial result.
 */
#include "cli/http.h"
#include "common/buf.h"
#include "common/err.h"

#include "config.h"

#include <stdbool.h>
#include <string.h>

#include <curl/curl.h>

#include "common/banned.h"

struct body {
	struct vg_buf buf;
	bool is_too_large;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;

	if ((long long)(b->buf.len + len) > VG_HTTP_MAX_BODY_BYTES) {
		b->is_too_large = true;
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	}
	vg_buf_append(&b->buf, p, len);
	return vg_buf_failed(&b->buf) ? 0 : len;
}

/* RFC 3986 unreserved characters pass as they are. */
static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static void percent_encode(struct vg_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (is_unreserved(*p)) {
			vg_buf_putc(out, (char)*p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			vg_buf_append(out, e, 3);
		}
	}
}

int vg_http_encode_params(const struct vg_http_param *params, size_t n_params,
			  struct vg_buf *out, struct vg_err *err)
{
	for (size_t i = 0; i < n_params; i++) {
		if (i)
			vg_buf_putc(out, '&');
		percent_encode(out, params[i].name);
		vg_buf_putc(out, '=');
		percent_encode(out, params[i].value);
	}
	if (vg_buf_failed(out))
		return vg_err_set(err, VG_ENOMEM, "out of memory encoding the request");
	return 0;
}

/* Copies a server's text into a one-line message: control characters (a
 * newline, an escape sequence aimed at the terminal) become spaces. */
static void one_line(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	dst[n] = '\0';
}

static const char *member_string(const json_t *obj, const char *key, size_t *len)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		return NULL;
	*len = json_string_length(v);
	return json_string_value(v);
}

int vg_http_check_response(long http_status, const char *body, size_t len,
			   const char *url, json_t **doc_out, struct vg_err *err)
{
	json_error_t jerr;
	json_t *doc;
	const char *status, *s;
	size_t status_len, s_len;
	char type[64], text[VG_ERR_MSG_MAX];
	int rc;

	*doc_out = NULL;
	doc = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
	if (doc == NULL || !json_is_object(doc) ||
	    (status = member_string(doc, "status", &status_len)) == NULL) {
		if (http_status != 200)
			rc = vg_err_set(err, VG_EPROTO, "unexpected response from %s: HTTP %ld", url, http_status);
		else if (doc == NULL)
			rc = vg_err_set(err, VG_EPROTO, "unexpected response from %s: not JSON (%s at byte %d)",
					url, jerr.text, jerr.position);
		else
			rc = vg_err_set(err, VG_EPROTO, "unexpected response from %s: no \"status\" in the JSON", url);
		goto fail;
	}
	if (strcmp(status, "error") == 0 && status_len == 5) {
		s = member_string(doc, "errorType", &s_len);
		one_line(type, sizeof(type), s ? s : "unknown", s ? s_len : 7);
		s = member_string(doc, "error", &s_len);
		one_line(text, sizeof(text), s ? s : "(no message)", s ? s_len : 12);
		rc = vg_err_set(err, VG_EINVAL, "server error (%s): %s", type, text);
		goto fail;
	}
	if (strcmp(status, "success") != 0 || status_len != 7) {
		one_line(text, sizeof(text), status, status_len);
		rc = vg_err_set(err, VG_EPROTO, "unexpected response from %s: status \"%s\"", url, text);
		goto fail;
	}
	if (http_status != 200) {
		rc = vg_err_set(err, VG_EPROTO, "unexpected response from %s: HTTP %ld", url, http_status);
		goto fail;
	}
	if (json_object_get(doc, "data") == NULL) {
		rc = vg_err_set(err, VG_EPROTO, "unexpected response from %s: no \"data\"", url);
		goto fail;
	}
	*doc_out = doc;
	return 0;
fail:
	json_decref(doc);
	return rc;
}

/* The words for a transfer that failed: the system's for a refused or
 * unreachable connection ("Connection refused"), else libcurl's. */
static void transfer_reason(CURL *c, CURLcode code, const char *errbuf, char *out, size_t cap)
{
	long os_errno = 0;

	if (code == CURLE_COULDNT_CONNECT &&
	    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno > 0) {
		snprintf(out, cap, "%s", strerror((int)os_errno));
		return;
	}
	snprintf(out, cap, "%s", errbuf[0] ? errbuf : curl_easy_strerror(code));
}

/*
 * A handle for url with what every request shares: the User-Agent, the
 * header list (extra, then the bearer token; the list is the caller's to
 * free, NULL on failure), the error buffer, the connect timeout, the body
 * sink, the protocols, and the CA to trust. NULL when libcurl cannot.
 */
static CURL *new_handle(const struct vg_http_client *client, const char *url, const char *extra_header,
			struct curl_slist **headers, char *errbuf, struct body *body)
{
	struct vg_buf auth = VG_BUF_INIT;
	struct curl_slist *h;
	CURL *c = curl_easy_init();

	*headers = curl_slist_append(NULL, extra_header);
	if (*headers && client->token && *client->token) {
		vg_buf_printf(&auth, "Authorization: Bearer %s", client->token);
		h = vg_buf_failed(&auth) ? NULL : curl_slist_append(*headers, vg_buf_cstr(&auth));
		vg_buf_release(&auth);
		if (h == NULL) {
			curl_slist_free_all(*headers);
			*headers = NULL;
		}
	}
	if (c == NULL || *headers == NULL) {
		if (c)
			curl_easy_cleanup(c);
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vigil/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)VG_HTTP_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (client->cacert && *client->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, client->cacert);
	return c;
}

/* client->server without its trailing slashes ("http://host:9711/" and
 * "http://host:9711" name the same API), then path. */
static void put_url(struct vg_buf *url, const struct vg_http_client *client, const char *path)
{
	size_t base_len = strlen(client->server);

	while (base_len > 0 && client->server[base_len - 1] == '/')
		base_len--;
	vg_buf_append(url, client->server, base_len);
	vg_buf_puts(url, path);
}

/* After curl_easy_perform of a request with a body callback: its status
 * and answer into body_out, or why there is none. */
static int collect_answer(CURL *c, CURLcode code, const struct vg_http_client *client, const struct vg_buf *url,
			  const char *errbuf, const struct body *body, long *status, struct vg_buf *body_out,
			  struct vg_err *err)
{
	char reason[CURL_ERROR_SIZE + 64];

	if (body->is_too_large || vg_buf_failed(&body->buf))
		return vg_err_set(err, VG_ENOMEM, "the answer of %s is too large", vg_buf_cstr(url));
	if (code != CURLE_OK) {
		transfer_reason(c, code, errbuf, reason, sizeof(reason));
		return vg_err_set(err, VG_EIO, "cannot reach %s: %s", client->server, reason);
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	vg_buf_append(body_out, body->buf.data, body->buf.len);
	return 0;
}

int vg_http_get(const struct vg_http_client *client, const char *path,
		const struct vg_http_param *params, size_t n_params,
		json_t **doc_out, struct vg_err *err)
{
	struct vg_buf url = VG_BUF_INIT, form = VG_BUF_INIT;
	struct body body = { VG_BUF_INIT, false };
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", reason[CURL_ERROR_SIZE + 64];
	size_t url_len;
	bool is_post;
	long http_status = 0;
	CURLcode code;
	CURL *c = NULL;
	int rc;

	*doc_out = NULL;
	rc = vg_http_encode_params(params, n_params, &form, err);
	if (rc)
		goto fail;
	is_post = form.len > VG_HTTP_MAX_GET_PARAMS_BYTES;

	put_url(&url, client, path);
	url_len = url.len; /* messages name the URL without its parameters */
	if (!is_post && form.len) {
		vg_buf_putc(&url, '?');
		vg_buf_append(&url, form.data, form.len);
	}
	if (vg_buf_failed(&url)) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory building the request URL");
		goto fail;
	}

	c = new_handle(client, vg_buf_cstr(&url), "Accept: application/json", &headers, errbuf, &body);
	if (c == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "cannot start a request (libcurl initialisation failed)");
		goto fail;
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)client->timeout_ms);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (is_post) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, vg_buf_cstr(&form));
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
	}

	code = curl_easy_perform(c);
	url.data[url_len] = '\0';
	if (body.is_too_large) {
		rc = vg_err_set(err, VG_ELIMIT, "unexpected response from %s: larger than %lld MiB",
				vg_buf_cstr(&url), VG_HTTP_MAX_BODY_BYTES >> 20);
		goto fail;
	}
	if (vg_buf_failed(&body.buf)) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory reading the response of %s", vg_buf_cstr(&url));
		goto fail;
	}
	if (code != CURLE_OK) {
		transfer_reason(c, code, errbuf, reason, sizeof(reason));
		rc = vg_err_set(err, VG_EIO, "cannot reach %s: %s", client->server, reason);
		goto fail;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http_status);
	rc = vg_http_check_response(http_status, vg_buf_cstr(&body.buf), body.buf.len,
				    vg_buf_cstr(&url), doc_out, err);
fail:
	curl_slist_free_all(headers);
	if (c)
		curl_easy_cleanup(c);
	vg_buf_release(&body.buf);
	vg_buf_release(&form);
	vg_buf_release(&url);
	return rc;
}

struct upload {
	const struct vg_http_upload *up;
	bool has_read_error;
};

static size_t on_read(char *p, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	long got = u->up->read(u->up->arg, p, size * n);

	if (got < 0) {
		u->has_read_error = true;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)got;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct upload *u = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	if (u->up->progress)
		u->up->progress(u->up->arg, (int64_t)ulnow);
	return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct vg_buf *h = arg;

	vg_buf_append(h, p, size * n);
	return vg_buf_failed(h) ? 0 : size * n;
}

int vg_http_post(const struct vg_http_client *client, const char *path_and_query,
		 const struct vg_http_upload *up, long *status, struct vg_buf *body_out,
		 struct vg_buf *headers_out, struct vg_err *err)
{
	struct vg_buf url = VG_BUF_INIT, ct = VG_BUF_INIT;
	struct body body = { VG_BUF_INIT, false };
	struct upload u = { up, false };
	struct curl_slist *headers = NULL, *h;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode code;
	CURL *c = NULL;
	int rc = 0;

	*status = 0;
	put_url(&url, client, path_and_query);
	vg_buf_printf(&ct, "Content-Type: %s", up->content_type ? up->content_type : "text/plain");
	if (vg_buf_failed(&url) || vg_buf_failed(&ct)) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory building the request");
		goto fail;
	}
	c = new_handle(client, vg_buf_cstr(&url), vg_buf_cstr(&ct), &headers, errbuf, &body);
	/* The server answers 100-continue at once; waiting for it gains
	 * nothing. */
	if (headers && (h = curl_slist_append(headers, "Expect:")) != NULL)
		headers = h;
	if (headers && up->size_bytes < 0 && (h = curl_slist_append(headers, "Transfer-Encoding: chunked")) != NULL)
		headers = h;
	if (c == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "cannot start a request (libcurl initialisation failed)");
		goto fail;
	}
	/* A bulk load takes as long as it takes: the timeout bounds silence
	 * (no byte moving for that long), not the whole transfer. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)((client->timeout_ms + 999) / 1000));
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	if (up->size_bytes >= 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)up->size_bytes);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &u);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, headers_out);
	code = curl_easy_perform(c);
	if (u.has_read_error) {
		rc = vg_err_set(err, VG_EIO, "reading the input failed");
		goto fail;
	}
	rc = collect_answer(c, code, client, &url, errbuf, &body, status, body_out, err);
fail:
	curl_slist_free_all(headers);
	if (c)
		curl_easy_cleanup(c);
	vg_buf_release(&body.buf);
	vg_buf_release(&ct);
	vg_buf_release(&url);
	return rc;
}

int vg_http_request(const struct vg_http_client *client, const char *method, const char *path_and_query,
		    const char *body_in, size_t len, long *status, struct vg_buf *body_out, struct vg_err *err)
{
	struct vg_buf url = VG_BUF_INIT;
	struct body body = { VG_BUF_INIT, false };
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode code;
	CURL *c = NULL;
	int rc = 0;

	*status = 0;
	put_url(&url, client, path_and_query);
	if (vg_buf_failed(&url)) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory building the request");
		goto fail;
	}
	c = new_handle(client, vg_buf_cstr(&url), "Content-Type: application/json", &headers, errbuf, &body);
	if (c == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "cannot start a request (libcurl initialisation failed)");
		goto fail;
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)client->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body_in) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body_in);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	code = curl_easy_perform(c);
	rc = collect_answer(c, code, client, &url, errbuf, &body, status, body_out, err);
fail:
	curl_slist_free_all(headers);
	if (c)
		curl_easy_cleanup(c);
	vg_buf_release(&body.buf);
	vg_buf_release(&url);
	return rc;
}
