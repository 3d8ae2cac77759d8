/*
 * web.h: the receiver's own web page: the files of receiver/http/web/
 * (HTML, CSS, JavaScript and the fetched charting library under vendor/),
 * read once at start from one asset root and served only as the
 * compiled-in table (web_assets.c) names them. http_api.c routes to it
 * what the API does not answer.
 *
 * Invariants: a request path is answered only when it equals a table row's
 * URL path byte for byte; anything odd in it (a percent sign, a backslash,
 * a dot segment, an empty segment, a byte outside [A-Za-z0-9._~/-]) is
 * refused (400) before the table is asked, so no path reaches the file
 * system. A vg_web is read-only once open, so the HTTP thread needs no
 * lock.
 *
 * The asset root (vigil-receiver.yaml(5), web_assets_dir; the flag
 * --web.assets-dir): when unset, the installed VG_WEB_DIR
 * ($(pkgdatadir)/web), or, for a receiver run from its build tree, the
 * source tree's receiver/http/web/ and then the build tree's (where the
 * build puts the fetched vendor files).
 */
#ifndef VG_HTTP_WEB_H
#define VG_HTTP_WEB_H

#include <stdbool.h>
#include <stddef.h>

struct vg_err;

/* One row of the asset table: the URL path it answers, its file relative
 * to the asset root, its Content-Type. Rows whose file is under vendor/
 * are cached long (their URL names their version); the rest are
 * revalidated by ETag on every use. */
struct vg_web_asset {
	const char *url_path;
	const char *file;
	const char *content_type;
};

/* web_assets.c: the table, ended by a row of NULLs. */
extern const struct vg_web_asset vg_web_assets[];

/* The Content-Security-Policy of every web reply: no inline script or
 * style, no eval, nothing from elsewhere. */
extern const char vg_web_csp[];

struct vg_web;

/* What to send for one request: status 200 (body, len), 304 (no body),
 * 400 (a refused path) or 404 (no such asset, or its file was missing
 * at start); reason says why for 400 and 404. */
struct vg_web_reply {
	int status;
	const char *reason;
	const void *body; /* borrowed from the vg_web */
	size_t len;
	const char *content_type;
	const char *etag;          /* quoted */
	const char *cache_control;
};

/*
 * Reads every asset the table names under the root (dir, or when NULL or
 * "" the default above) into a new vg_web (caller frees with
 * vg_web_free). A missing file is not an error: its row answers 404 and
 * the file is named in the one warning logged for all of them. An error
 * only when dir was given and is not a directory, or out of memory.
 */
int vg_web_open(const char *dir, struct vg_web **out, struct vg_err *err);
void vg_web_free(struct vg_web *w);

/* The roots assets were read from ("A" or "A:B"), for log lines. */
const char *vg_web_roots(const struct vg_web *w);

/*
 * Checks a request's raw path (as on the request line, before '?', still
 * percent-encoded): 0 when it may name an asset, 400 when it is refused
 * for its form (see the invariants above), with *reason saying why.
 */
int vg_web_check_path(const char *path, const char **reason);

/* Whether path names a table row (so OPTIONS and 405s apply to it). */
bool vg_web_has(const struct vg_web *w, const char *path);

/*
 * Answers GET path with the request's If-None-Match (may be NULL) into
 * *out, which borrows from w.
 */
void vg_web_lookup(const struct vg_web *w, const char *path, const char *if_none_match,
		   struct vg_web_reply *out);

#endif
