/*
 * web.c: the web page's files (web.h): finding the asset root, reading
 * the table's files once, refusing odd paths, and the headers of a reply
 * (type, ETag, Cache-Control). http_api.c writes the reply; the table is
 * web_assets.c's.
 *
 * Files are read at start and kept (the page and its script are tens of
 * kilobytes, uPlot some 50): no file is opened per request, so a request
 * can never reach the file system, and a file changed on disk shows
 * after a restart. The ETag is XXH3_64 of the content.
 */
#include "receiver/http/web.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/banned.h"

/* Larger files are refused at start, so a mistaken root cannot make the
 * receiver read gigabytes. */
#define MAX_ASSET_BYTES (8u << 20)

static const char cache_revalidate[] = "no-cache";
static const char cache_immutable[] = "public, max-age=31536000, immutable";

const char vg_web_csp[] = "default-src 'self'; object-src 'none'; base-uri 'none'; "
			  "form-action 'self'; frame-ancestors 'none'";

struct web_file {
	const struct vg_web_asset *asset;
	char *data; /* NULL: the file was missing */
	size_t len;
	char etag[20]; /* "<16 hex>" */
};

struct vg_web {
	struct web_file *files;
	size_t n_files;
	char roots[2 * PATH_MAX + 2];
};

/* Whether the running program lives in the build tree it was built in
 * (VG_WEB_BUILD_TOP), where the assets are the source tree's. */
static bool is_in_build_tree(void)
{
#ifdef VG_WEB_BUILD_TOP
	char exe[PATH_MAX], top[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return false;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return false;
	*slash = '\0';
	if (realpath(VG_WEB_BUILD_TOP, top) == NULL)
		return false;
	/* The receiver is at the top of the build tree; bench/ and tests/
	 * programs one level below. */
	if (strcmp(exe, top) == 0)
		return true;
	slash = strrchr(exe, '/');
	return slash != NULL && (*slash = '\0', strcmp(exe, top) == 0);
#else
	return false;
#endif
}

/* Reads root/file into f (f->data stays NULL when there is no such
 * file). */
static int read_asset(const char *root, struct web_file *f, struct vg_err *err)
{
	struct vg_buf path = VG_BUF_INIT;
	struct stat st;
	FILE *fp = NULL;
	int rc = 0;

	vg_buf_printf(&path, "%s/%s", root, f->asset->file);
	if (vg_buf_failed(&path)) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	if ((fp = fopen(vg_buf_cstr(&path), "rb")) == NULL)
		goto out; /* missing: answered 404, named in the warning */
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_ASSET_BYTES) {
		rc = vg_err_set(err, VG_EINVAL, "web asset %s: not a regular file of at most %u bytes",
				vg_buf_cstr(&path), MAX_ASSET_BYTES);
		goto out;
	}
	f->len = (size_t)st.st_size;
	if ((f->data = malloc(f->len ? f->len : 1)) == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	if (fread(f->data, 1, f->len, fp) != f->len) {
		rc = vg_err_set(err, VG_EIO, "reading web asset %s: %s", vg_buf_cstr(&path), strerror(errno));
		free(f->data);
		f->data = NULL;
		goto out;
	}
	snprintf(f->etag, sizeof(f->etag), "\"%016llx\"", (unsigned long long)XXH3_64bits(f->data, f->len));
out:
	if (fp != NULL)
		fclose(fp);
	vg_buf_release(&path);
	return rc;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int vg_web_open(const char *dir, struct vg_web **out, struct vg_err *err)
{
	const char *roots[2] = { NULL, NULL };
	struct vg_web *w;
	struct vg_buf missing = VG_BUF_INIT;
	size_t n = 0, n_missing = 0;
	int rc = 0;

	*out = NULL;
	if (dir != NULL && *dir != '\0') {
		if (!is_dir(dir))
			return vg_err_set(err, VG_EINVAL, "web_assets_dir %s: not a directory", dir);
		roots[0] = dir;
	} else if (is_in_build_tree()) {
#if defined(VG_WEB_SRCDIR) && defined(VG_WEB_BUILDDIR)
		roots[0] = VG_WEB_SRCDIR;
		roots[1] = strcmp(VG_WEB_SRCDIR, VG_WEB_BUILDDIR) != 0 ? VG_WEB_BUILDDIR : NULL;
#else
		roots[0] = VG_WEB_DIR;
#endif
	} else {
		roots[0] = VG_WEB_DIR;
	}
	while (vg_web_assets[n].url_path != NULL)
		n++;
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->files = calloc(n, sizeof(*w->files))) == NULL) {
		free(w);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	w->n_files = n;
	snprintf(w->roots, sizeof(w->roots), "%s%s%s", roots[0], roots[1] ? ":" : "", roots[1] ? roots[1] : "");
	for (size_t i = 0; i < n; i++) {
		struct web_file *f = &w->files[i];
		f->asset = &vg_web_assets[i];
		for (size_t r = 0; r < 2 && roots[r] != NULL && f->data == NULL; r++)
			if ((rc = read_asset(roots[r], f, err)) != 0)
				goto fail;
		if (f->data == NULL) {
			vg_buf_printf(&missing, "%s%s", n_missing ? ", " : "", f->asset->file);
			n_missing++;
		}
	}
	if (n_missing == n)
		vg_warn("web page not served: no assets under %s", w->roots);
	else if (n_missing > 0)
		vg_warn("web page: %zu assets missing under %s (answered 404): %s", n_missing, w->roots,
			vg_buf_cstr(&missing));
	vg_buf_release(&missing);
	*out = w;
	return 0;
fail:
	vg_buf_release(&missing);
	vg_web_free(w);
	return rc;
}

void vg_web_free(struct vg_web *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n_files; i++)
		free(w->files[i].data);
	free(w->files);
	free(w);
}

const char *vg_web_roots(const struct vg_web *w)
{
	return w->roots;
}

int vg_web_check_path(const char *path, const char **reason)
{
	const char *seg;

	if (path[0] != '/') {
		*reason = "a path must start with /";
		return 400;
	}
	for (const char *p = path; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '%') {
			*reason = "percent-encoded paths are refused";
			return 400;
		}
		if (ch == '\\') {
			*reason = "backslashes are refused";
			return 400;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '~' || ch == '/' || ch == '-')) {
			*reason = "a path may hold only letters, digits and ._~/-";
			return 400;
		}
	}
	/* Segments: none empty (but the root's), none "." or "..". */
	for (seg = path + 1; *seg; ) {
		const char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);
		if ((len == 0 && end != NULL) || (len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.')) {
			*reason = "empty, . and .. path segments are refused";
			return 400;
		}
		if (end == NULL)
			break;
		seg = end + 1;
	}
	*reason = NULL;
	return 0;
}

static const struct web_file *find(const struct vg_web *w, const char *path)
{
	for (size_t i = 0; i < w->n_files; i++)
		if (strcmp(w->files[i].asset->url_path, path) == 0)
			return &w->files[i];
	return NULL;
}

bool vg_web_has(const struct vg_web *w, const char *path)
{
	return w != NULL && find(w, path) != NULL;
}

/* If-None-Match: a list of quoted tags, maybe weak (W/"..."), or "*". */
static bool etag_matches(const char *header, const char *etag)
{
	const char *p = header;

	if (header == NULL)
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (p[0] == '*' && (p[1] == '\0' || p[1] == ' '))
		return true;
	return strstr(header, etag) != NULL;
}

void vg_web_lookup(const struct vg_web *w, const char *path, const char *if_none_match,
		   struct vg_web_reply *out)
{
	const struct web_file *f = NULL;
	int status;

	memset(out, 0, sizeof(*out));
	if ((status = vg_web_check_path(path, &out->reason)) != 0) {
		out->status = status;
		return;
	}
	if (w == NULL || (f = find(w, path)) == NULL || f->data == NULL) {
		out->status = 404;
		out->reason = f == NULL ? "unknown path" : "this web asset is not installed";
		return;
	}
	out->content_type = f->asset->content_type;
	out->etag = f->etag;
	out->cache_control = strncmp(f->asset->file, "vendor/", 7) == 0 ? cache_immutable : cache_revalidate;
	if (etag_matches(if_none_match, f->etag)) {
		out->status = 304;
		return;
	}
	out->status = 200;
	out->body = f->data;
	out->len = f->len;
}
