/*
 * http.h: the CLI's requests to a receiver's Prometheus-compatible HTTP API
 * (/work docs: interfaces/prometheus-http-api.md).
 *
 * One call sends one request and returns the parsed response envelope only
 * when it is a success: {"status":"success","data":...}. Every other outcome
 * is an error whose code tells the caller what went wrong, so that the CLI
 * can map it to its exit status:
 *   VG_EINVAL  the server answered the envelope with status "error": the
 *              query was refused ("server error (bad_data): <error>");
 *   VG_EIO     no answer: connection refused, name not resolved, timeout
 *              ("cannot reach <server>: <reason>");
 *   VG_EPROTO  an answer that is not the API: an HTTP status with no
 *              envelope, a body that is not JSON or not an envelope
 *              ("unexpected response from <url>: HTTP 502");
 *   VG_ELIMIT  a body larger than VG_HTTP_MAX_BODY_BYTES;
 *   VG_ENOMEM  allocation failed.
 * The message in struct vg_err is complete and ready for "vigil: %s".
 *
 * The caller calls curl_global_init once before the first request.
 */
#ifndef VG_CLI_HTTP_H
#define VG_CLI_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct vg_buf;
struct vg_err;

/* Responses are read into memory; a query that big is better paged. */
#define VG_HTTP_MAX_BODY_BYTES (1024LL * 1024 * 1024)
/* Above this many bytes of encoded parameters the request is sent as a
 * POST form instead of a GET (the API takes both on query, query_range and
 * series), so that long selectors do not meet URL length limits. */
#define VG_HTTP_MAX_GET_PARAMS_BYTES 4096
#define VG_HTTP_CONNECT_TIMEOUT_MS 5000

struct vg_http_param {
	const char *name;  /* e.g. "query", "match[]"; repeat a name to repeat it */
	const char *value; /* raw, escaped by the request */
};

struct vg_http_client {
	const char *server;  /* base URL, e.g. "http://127.0.0.1:9711"; borrowed */
	int64_t timeout_ms;  /* whole request, connect included; > 0 */
	const char *token;   /* sent as "Authorization: Bearer <token>"; NULL: none */
	const char *cacert;  /* a CA file (PEM) trusted for https://; NULL: the system's */
};

/*
 * Sends path (e.g. "/api/v1/query") with params to client->server and
 * returns the whole envelope in *doc_out (a new reference, the caller
 * json_decref()s it) after checking that status is "success" and data is
 * present. Warnings in the envelope are left in it for the caller.
 */
int vg_http_get(const struct vg_http_client *client, const char *path,
		const struct vg_http_param *params, size_t n_params,
		json_t **doc_out, struct vg_err *err);

/* Appends name=value&... with both sides percent-encoded (RFC 3986
 * unreserved characters kept). */
int vg_http_encode_params(const struct vg_http_param *params, size_t n_params,
			  struct vg_buf *out, struct vg_err *err);

/*
 * Checks a response that arrived: HTTP status http_status, body[0..len),
 * from url (for messages). Returns the envelope as vg_http_get does. Split
 * out so that every shape of answer can be tested without a server.
 */
int vg_http_check_response(long http_status, const char *body, size_t len,
			   const char *url, json_t **doc_out, struct vg_err *err);

/*
 * A streamed POST (vigil import, vigil push): the body comes from
 * up->read, Content-Length when size_bytes is known, else chunked. The
 * answer of any HTTP status is returned, not judged: *status, the body
 * (bounded as above) and the response header lines in headers. VG_EIO when
 * no answer came (or up->read failed: then err says so), VG_ENOMEM.
 */
struct vg_http_upload {
	const char *content_type;
	int64_t size_bytes; /* -1: unknown, sent chunked */
	/* Fills up to cap bytes; returns the count, 0 at the end, -1 on a
	 * read error (the request is aborted). */
	long (*read)(void *arg, char *buf, size_t cap);
	/* Called as bytes leave; may be NULL. */
	void (*progress)(void *arg, int64_t sent_bytes);
	void *arg;
};

int vg_http_post(const struct vg_http_client *client, const char *path_and_query,
		 const struct vg_http_upload *up, long *status, struct vg_buf *body,
		 struct vg_buf *headers, struct vg_err *err);

/* One request with a body in memory (body NULL: none), for APIs without
 * the envelope (Alertmanager's /api/v2): method "GET", "POST", "DELETE";
 * the answer of any status in *status and body_out. VG_EIO when no answer
 * came, VG_ENOMEM. */
int vg_http_request(const struct vg_http_client *client, const char *method, const char *path_and_query,
		    const char *body, size_t len, long *status, struct vg_buf *body_out, struct vg_err *err);

#endif
