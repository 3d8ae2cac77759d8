/*
 * tombstone.c: the list of deleted ranges of tombstone.h and its file.
 *
 * Owns <data_dir>/tombstones and the list in memory. Does not own selector
 * syntax (PromQL's, promql/: the file holds matchers, not text) or where
 * deletions are applied (storage.c when reading, seal.c and compact.c when
 * writing blocks).
 *
 * FILE (format version 2; docs/storage-format.md, "Tombstones"), all
 * integers little-endian:
 *
 *   0   4  magic "VGTS"
 *   4   1  format version, 2
 *   5   3  flags, 0
 *   8   4  N, tombstones that follow (<= 65,536)
 *   12     N x { i64 min_t, i64 max_t (min_t <= max_t, both included, ms),
 *                u32 L (1 .. 65,536), L bytes: the selector's matchers }
 *   end 8  XXH3-64 of every byte before it, seed 0
 *
 * The matchers, 1 to VG_SELECTOR_MAX_MATCHERS of them back to back, fill
 * their L bytes exactly, each:
 *
 *   u8 op (0 =, 1 !=, 2 =~, 3 !~), u32 name length (1 .. 256), the name,
 *   u32 value length (<= L), the value (a regex's source for =~ and !~)
 *
 * Every matcher must be one vg_selector_add takes (a regex must compile);
 * the file must be consumed exactly. It is written whole under "tombstones.tmp", fdatasynced, renamed
 * over "tombstones" and the directory fdatasynced (vg_fs_publish), so a
 * reader, or a restart after a crash, finds the old list or the new one.
 *
 * Invariant: the list in memory is what the file holds; an add that fails
 * to write changes neither.
 */
#include "receiver/storage/tombstone.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/selector.h"
#include "receiver/storage/head.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/banned.h"

#define TS_MAGIC "VGTS"
#define TS_VERSION 2
#define TS_HEADER_BYTES 12
#define TS_ENTRY_BYTES 20 /* before the selector's text */
#define TS_CHECK_BYTES 8
#define TS_NAME "tombstones"

struct tomb {
	struct vg_selector sel;
	char *text;
	size_t len;
	int64_t min_t, max_t;
};

struct vg_tombstones {
	char *path, *tmp_path;   /* NULL: in memory only */
	pthread_mutex_t mu;      /* the list, and each selector's match scratch */
	pthread_mutex_t write_mu; /* one add at a time, held across its I/O */
	struct tomb *v;          /* under mu */
	size_t n, cap;
	_Atomic size_t n_pub;    /* n, read without mu for the empty case */
};

static void tomb_release(struct tomb *t)
{
	vg_selector_release(&t->sel);
	free(t->text);
}

/* The matchers of one tombstone (the layout above) into sel, a new
 * selector; VG_EINVAL naming the offset within them, or VG_ENOMEM. */
static int matchers_decode(const uint8_t *p, size_t len, struct vg_selector *sel, struct vg_err *err)
{
	size_t off = 0;
	int rc = 0;

	*sel = (struct vg_selector)VG_SELECTOR_INIT;
	while (rc == 0 && off < len) {
		uint32_t nl, vl;
		const uint8_t *name;

		if (len - off < 5 || p[off] > VG_MATCH_NRE)
			goto bad;
		nl = vg_get_le32(p + off + 1);
		if (nl == 0 || nl > VG_SERIES_MAX_NAME || nl > len - off - 5 || len - off - 5 - nl < 4)
			goto bad;
		name = p + off + 5;
		vl = vg_get_le32(name + nl);
		if (vl > len - off - 9 - nl)
			goto bad;
		rc = vg_selector_add(sel, (const char *)name, nl, (enum vg_match_op)p[off],
				     (const char *)name + nl + 4, vl, err);
		off += 9 + (size_t)nl + vl;
	}
	if (rc == 0 && sel->n > 0)
		return 0;
	if (rc == VG_ENOMEM) {
		vg_selector_release(sel);
		return rc;
	}
bad:
	vg_selector_release(sel);
	if (rc != 0)
		vg_err_prefix(err, "matcher at byte %zu", off);
	else
		vg_err_set(err, VG_EINVAL, "bad matcher at byte %zu", off);
	return VG_EINVAL;
}

/* sel's matchers, as matchers_decode reads them. */
static void matchers_encode(struct vg_buf *b, const struct vg_selector *sel)
{
	for (size_t i = 0; i < sel->n; i++) {
		const struct vg_matcher *m = &sel->m[i];
		size_t nl = strlen(m->name);
		uint8_t h[5], vl[4];

		h[0] = (uint8_t)m->op;
		vg_put_le32(h + 1, (uint32_t)nl);
		vg_put_le32(vl, (uint32_t)m->value_len);
		vg_buf_append(b, h, sizeof(h));
		vg_buf_append(b, m->name, nl);
		vg_buf_append(b, vl, sizeof(vl));
		vg_buf_append(b, m->value, m->value_len);
	}
}

/* A new tomb from its encoded matchers; VG_EINVAL (with the reason) or
 * VG_ENOMEM. */
static int tomb_init(struct tomb *t, struct vg_str text, int64_t min_t, int64_t max_t,
		     struct vg_err *err)
{
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = matchers_decode((const uint8_t *)text.p, text.len, &t->sel, err)) != 0)
		return rc;
	t->text = malloc(text.len + 1);
	if (t->text == NULL) {
		vg_selector_release(&t->sel);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	memcpy(t->text, text.p, text.len);
	t->text[text.len] = '\0';
	t->len = text.len;
	t->min_t = min_t;
	t->max_t = max_t;
	return 0;
}

int vg_tombstones_decode(const uint8_t *p, size_t len,
			 int (*each)(void *arg, struct vg_str selector, int64_t min_t, int64_t max_t),
			 void *arg, struct vg_err *err)
{
	size_t off = TS_HEADER_BYTES, end;
	uint32_t n;

	if (len < TS_HEADER_BYTES + TS_CHECK_BYTES || memcmp(p, TS_MAGIC, 4) != 0)
		return vg_err_set(err, VG_EINVAL, "not a tombstones file (bad magic or too short)");
	if (p[4] > TS_VERSION)
		return vg_err_set(err, VG_EVERSION, "tombstones format version %u is newer than %u", p[4],
				  TS_VERSION);
	if (p[4] != TS_VERSION || p[5] || p[6] || p[7])
		return vg_err_set(err, VG_EINVAL, "bad version or flags at offset 4");
	end = len - TS_CHECK_BYTES;
	if (vg_get_le64(p + end) != XXH3_64bits(p, end))
		return vg_err_set(err, VG_EINVAL, "checksum mismatch at offset %zu", end);
	n = vg_get_le32(p + 8);
	if (n > VG_TOMBSTONES_MAX)
		return vg_err_set(err, VG_EINVAL, "%" PRIu32 " tombstones at offset 8 (limit %u)", n,
				  VG_TOMBSTONES_MAX);
	for (uint32_t i = 0; i < n; i++) {
		struct vg_selector sel;
		int64_t min_t, max_t;
		uint32_t sl;
		int rc;

		if (end - off < TS_ENTRY_BYTES)
			return vg_err_set(err, VG_EINVAL, "tombstone %" PRIu32 " truncated at offset %zu", i, off);
		min_t = (int64_t)vg_get_le64(p + off);
		max_t = (int64_t)vg_get_le64(p + off + 8);
		sl = vg_get_le32(p + off + 16);
		if (min_t > max_t || sl == 0 || sl > VG_TOMBSTONE_MAX_SELECTOR || sl > end - off - TS_ENTRY_BYTES)
			return vg_err_set(err, VG_EINVAL, "tombstone %" PRIu32 " at offset %zu: bad range or selector length",
					  i, off);
		off += TS_ENTRY_BYTES;
		if ((rc = matchers_decode(p + off, sl, &sel, err)) != 0) {
			vg_err_prefix(err, "tombstone %" PRIu32 " at offset %zu", i, off);
			return rc;
		}
		vg_selector_release(&sel);
		if (each && (rc = each(arg, (struct vg_str){ (const char *)p + off, sl }, min_t, max_t)) != 0)
			return rc;
		off += sl;
	}
	if (off != end)
		return vg_err_set(err, VG_EINVAL, "%zu bytes after the last tombstone at offset %zu", end - off,
				  off);
	return 0;
}

static int grow(struct vg_tombstones *t, size_t n)
{
	struct tomb *v;
	size_t cap = t->cap ? t->cap : 8;

	if (n <= t->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	v = realloc(t->v, cap * sizeof(*v));
	if (v == NULL)
		return VG_ENOMEM;
	t->v = v;
	t->cap = cap;
	return 0;
}

static int load_one(void *arg, struct vg_str selector, int64_t min_t, int64_t max_t)
{
	struct vg_tombstones *t = arg;
	struct vg_err e;

	if (grow(t, t->n + 1) != 0 || tomb_init(&t->v[t->n], selector, min_t, max_t, &e) != 0)
		return VG_ENOMEM; /* it parsed once already */
	t->n++;
	return 0;
}

static int load(struct vg_tombstones *t, struct vg_err *err)
{
	struct stat sb;
	uint8_t *p = NULL;
	size_t got = 0;
	int fd, rc;

	fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : vg_err_set(err, VG_EIO, "open %s: %s", t->path, strerror(errno));
	if (fstat(fd, &sb) != 0) {
		rc = vg_err_set(err, VG_EIO, "fstat %s: %s", t->path, strerror(errno));
		goto out;
	}
	if (sb.st_size < 0 || (uint64_t)sb.st_size > VG_TOMBSTONES_MAX_FILE) {
		rc = vg_err_set(err, VG_EINVAL, "%s: %lld bytes (limit %u)", t->path, (long long)sb.st_size,
				VG_TOMBSTONES_MAX_FILE);
		goto out;
	}
	if ((p = malloc((size_t)sb.st_size + 1)) == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory reading %s", t->path);
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, p + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = vg_err_set(err, VG_EIO, "read %s: %s", t->path, r < 0 ? strerror(errno) : "short file");
			goto out;
		}
		got += (size_t)r;
	}
	rc = vg_tombstones_decode(p, got, load_one, t, err);
	if (rc == VG_ENOMEM)
		vg_err_set(err, rc, "out of memory reading %s", t->path);
	else if (rc != 0)
		vg_err_prefix(err, "%s", t->path);
out:
	free(p);
	close(fd);
	return rc;
}

void vg_tombstones_free(struct vg_tombstones *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		tomb_release(&t->v[i]);
	free(t->v);
	free(t->path);
	free(t->tmp_path);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->write_mu);
	free(t);
}

int vg_tombstones_open(const char *data_dir, struct vg_tombstones **out, struct vg_err *err)
{
	struct vg_tombstones *t = calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (t == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->write_mu, NULL);
	if (data_dir != NULL) {
		size_t n = strlen(data_dir) + sizeof(TS_NAME) + 8;
		t->path = malloc(n);
		t->tmp_path = malloc(n);
		if (t->path == NULL || t->tmp_path == NULL) {
			vg_tombstones_free(t);
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		}
		snprintf(t->path, n, "%s/%s", data_dir, TS_NAME);
		snprintf(t->tmp_path, n, "%s/%s.tmp", data_dir, TS_NAME);
		if ((rc = load(t, err)) != 0) {
			vg_tombstones_free(t);
			return rc;
		}
	}
	atomic_store(&t->n_pub, t->n);
	*out = t;
	return 0;
}

static void encode_entry(struct vg_buf *b, const char *text, size_t len, int64_t min_t, int64_t max_t)
{
	uint8_t e[TS_ENTRY_BYTES];

	vg_put_le64(e, (uint64_t)min_t);
	vg_put_le64(e + 8, (uint64_t)max_t);
	vg_put_le32(e + 16, (uint32_t)len);
	vg_buf_append(b, e, sizeof(e));
	vg_buf_append(b, text, len);
}

/* Writes the file: the list as it is (under write_mu, so it cannot
 * change), plus the n new ones. */
static int write_file(struct vg_tombstones *t, const struct tomb *add, size_t n, struct vg_err *err)
{
	struct vg_buf b = VG_BUF_INIT;
	uint8_t h[TS_HEADER_BYTES], c[TS_CHECK_BYTES];
	int fd, rc;

	memcpy(h, TS_MAGIC, 4);
	h[4] = TS_VERSION;
	h[5] = h[6] = h[7] = 0;
	vg_put_le32(h + 8, (uint32_t)(t->n + n));
	vg_buf_append(&b, h, sizeof(h));
	for (size_t i = 0; i < t->n; i++)
		encode_entry(&b, t->v[i].text, t->v[i].len, t->v[i].min_t, t->v[i].max_t);
	for (size_t i = 0; i < n; i++)
		encode_entry(&b, add[i].text, add[i].len, add[i].min_t, add[i].max_t);
	if (vg_buf_failed(&b) || b.len + TS_CHECK_BYTES > VG_TOMBSTONES_MAX_FILE) {
		rc = vg_buf_failed(&b) ? vg_err_set(err, VG_ENOMEM, "out of memory writing %s", t->path)
				       : vg_err_set(err, VG_ELIMIT, "%s would pass %u bytes", t->path,
						    VG_TOMBSTONES_MAX_FILE);
		vg_buf_release(&b);
		return rc;
	}
	vg_put_le64(c, XXH3_64bits(b.data, b.len));
	vg_buf_append(&b, c, sizeof(c));
	fd = open(t->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = vg_err_set(err, VG_EIO, "create %s: %s", t->tmp_path, strerror(errno));
		vg_buf_release(&b);
		return rc;
	}
	if (vg_buf_failed(&b)) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory writing %s", t->path);
	} else if (vg_fs_write_all(NULL, fd, b.data, b.len) != 0) {
		rc = vg_err_set(err, VG_EIO, "write %s: %s", t->tmp_path, strerror(errno));
	} else {
		rc = vg_fs_publish(NULL, fd, t->tmp_path, t->path, err);
	}
	if (rc != 0)
		(void)unlink(t->tmp_path); /* when publish failed, gone already */
	close(fd);
	vg_buf_release(&b);
	return rc;
}

int vg_tombstones_add(struct vg_tombstones *t, const struct vg_selector *selectors, size_t n,
		      int64_t min_t, int64_t max_t, struct vg_err *err)
{
	struct vg_buf enc = VG_BUF_INIT;
	struct tomb *add;
	size_t made = 0;
	int rc = 0;

	if (n == 0)
		return vg_err_set(err, VG_EINVAL, "no selector to delete");
	if (min_t > max_t)
		return vg_err_set(err, VG_EINVAL, "end timestamp must not be before start time");
	if ((add = calloc(n, sizeof(*add))) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	for (; made < n; made++) {
		vg_buf_reset(&enc);
		matchers_encode(&enc, &selectors[made]);
		if (vg_buf_failed(&enc)) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto out;
		}
		if (enc.len == 0 || enc.len > VG_TOMBSTONE_MAX_SELECTOR) {
			rc = vg_err_set(err, VG_ELIMIT, "a selector of %zu bytes of matchers (1 to %u)", enc.len,
					VG_TOMBSTONE_MAX_SELECTOR);
			goto out;
		}
		if ((rc = tomb_init(&add[made], (struct vg_str){ (const char *)enc.data, (uint32_t)enc.len },
				    min_t, max_t, err)) != 0)
			goto out;
	}
	pthread_mutex_lock(&t->write_mu);
	if (t->n + n > VG_TOMBSTONES_MAX) {
		rc = vg_err_set(err, VG_ELIMIT, "more than %u tombstones", VG_TOMBSTONES_MAX);
	} else if (t->path && (rc = write_file(t, add, n, err)) != 0) {
		/* the file and the list stay as they were */
	} else {
		pthread_mutex_lock(&t->mu);
		if (grow(t, t->n + n) != 0) {
			/* The file has them; the next open serves them. */
			rc = vg_err_set(err, VG_ENOMEM, "out of memory adding tombstones");
		} else {
			memcpy(t->v + t->n, add, n * sizeof(*add));
			t->n += n;
			atomic_store(&t->n_pub, t->n);
			made = 0; /* the list owns them now */
		}
		pthread_mutex_unlock(&t->mu);
	}
	pthread_mutex_unlock(&t->write_mu);
out:
	for (size_t i = 0; i < made; i++)
		tomb_release(&add[i]);
	free(add);
	vg_buf_release(&enc);
	return rc;
}

size_t vg_tombstones_len(struct vg_tombstones *t)
{
	return atomic_load(&t->n_pub);
}

int vg_tombstones_match(struct vg_tombstones *t, const uint8_t *key, size_t key_len,
			struct vg_interval **iv, size_t *n, size_t *cap)
{
	struct vg_series s;
	int rc = 0;

	if (atomic_load(&t->n_pub) == 0 || vg_series_from_key(key, key_len, &s) != 0)
		return 0;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->n && rc == 0; i++) {
		int m = vg_selector_match(&t->v[i].sel, &s);

		if (m < 0) {
			rc = m; /* undecided: the read fails rather than show deleted data */
			break;
		}
		if (m == 0)
			continue;
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 4;
			struct vg_interval *p = realloc(*iv, c * sizeof(*p));
			if (p == NULL) {
				rc = VG_ENOMEM;
				break;
			}
			*iv = p;
			*cap = c;
		}
		(*iv)[(*n)++] = (struct vg_interval){ t->v[i].min_t, t->v[i].max_t };
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void vg_tombstones_cut(const struct vg_interval *iv, size_t n, struct vg_samples *s)
{
	size_t out = 0;

	if (n == 0)
		return;
	for (size_t i = 0; i < s->n; i++) {
		bool is_deleted = false;

		for (size_t k = 0; k < n && !is_deleted; k++)
			is_deleted = s->ts_ms[i] >= iv[k].min_t && s->ts_ms[i] <= iv[k].max_t;
		if (is_deleted)
			continue;
		s->ts_ms[out] = s->ts_ms[i];
		s->values[out] = s->values[i];
		out++;
	}
	s->n = out;
}
