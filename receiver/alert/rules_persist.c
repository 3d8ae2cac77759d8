/*
 * rules_persist.c: the alert state file (rules_persist.h).
 *
 * Invariants: the decoder checks every length against what remains before
 * it allocates, and every count against the bytes left (each item takes
 * at least one byte), so a damaged or hostile file costs at most its size.
 */
#include "receiver/alert/rules_persist.h"

#include "common/err.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/banned.h"

#define MAGIC "VGALERTS2\n"
#define MAGIC_V1 "VGALERTS1\n" /* before hold_until: still read */
#define MAGIC_LEN 10

static void put_str(struct vg_buf *b, const char *s)
{
	size_t n = strlen(s);

	vg_buf_put_uvarint(b, n);
	vg_buf_append(b, s, n);
}

static void put_time(struct vg_buf *b, int64_t ms)
{
	vg_buf_put_uvarint(b, vg_zigzag(ms));
}

static void put_labels(struct vg_buf *b, const struct vg_conf_labels *l)
{
	vg_buf_put_uvarint(b, l->n);
	for (size_t i = 0; i < l->n; i++) {
		put_str(b, l->names[i]);
		put_str(b, l->values[i]);
	}
}

void vg_rules_persist_begin(struct vg_buf *b, size_t n_groups)
{
	vg_buf_reset(b);
	vg_buf_append(b, MAGIC, MAGIC_LEN);
	vg_buf_put_uvarint(b, n_groups);
}

void vg_rules_persist_group(struct vg_buf *b, const char *file, const char *name, int64_t last_eval_ms)
{
	put_str(b, file);
	put_str(b, name);
	put_time(b, last_eval_ms);
}

void vg_rules_persist_rules(struct vg_buf *b, size_t n_rules)
{
	vg_buf_put_uvarint(b, n_rules);
}

void vg_rules_persist_rule(struct vg_buf *b, const char *file, const char *group, uint32_t index,
			   const char *name, const struct vg_alert_table *t)
{
	put_str(b, file);
	put_str(b, group);
	vg_buf_put_uvarint(b, index);
	put_str(b, name);
	vg_buf_put_uvarint(b, t->n);
	for (size_t i = 0; i < t->n; i++) {
		const struct vg_alert_inst *in = &t->v[i];
		uint8_t v[8];
		uint64_t bits;

		vg_buf_put_uvarint(b, (uint64_t)in->state);
		put_time(b, in->active_at_ms);
		put_time(b, in->fired_at_ms);
		put_time(b, in->resolved_at_ms);
		put_time(b, in->keep_firing_since_ms);
		put_time(b, in->hold_until_ms);
		memcpy(&bits, &in->value, 8);
		vg_put_le64(v, bits);
		vg_buf_append(b, v, 8);
		put_labels(b, &in->labels);
		put_labels(b, &in->annotations);
	}
}

int vg_rules_persist_write(const char *data_dir, struct vg_buf *b, struct vg_err *err)
{
	char path[4096], tmp[4096];
	uint8_t sum[8];
	int fd, rc;

	vg_put_le64(sum, XXH3_64bits(b->data, b->len));
	vg_buf_append(b, sum, 8);
	if (vg_buf_failed(b))
		return vg_err_set(err, VG_ENOMEM, "out of memory writing the alert state");
	snprintf(path, sizeof(path), "%s/%s", data_dir, VG_RULES_STATE_FILE);
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", data_dir, VG_RULES_STATE_FILE);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return vg_err_set(err, VG_EIO, "create %s: %s", tmp, strerror(errno));
	if (vg_fs_write_all(NULL, fd, b->data, b->len) != 0) {
		rc = vg_err_set(err, VG_EIO, "write %s: %s", tmp, strerror(errno));
		close(fd);
		(void)unlink(tmp);
		return rc;
	}
	rc = vg_fs_publish(NULL, fd, tmp, path, err);
	close(fd);
	return rc;
}

/* --- reading ------------------------------------------------------------------ */

struct rd {
	const uint8_t *p;
	size_t n;
	bool is_bad;
};

static uint64_t get_uv(struct rd *r)
{
	uint64_t v = 0;
	size_t k;

	if (r->is_bad)
		return 0;
	k = vg_get_uvarint(r->p, r->n, &v);
	if (k == 0) {
		r->is_bad = true;
		return 0;
	}
	r->p += k;
	r->n -= k;
	return v;
}

/* A time: 0 (unset) or Unix ms, at most VG_RULES_STATE_MAX_TIME_MS, so
 * that the state machine's differences of times cannot overflow. */
static int64_t get_time(struct rd *r)
{
	int64_t t = vg_unzigzag(get_uv(r));

	if (t < 0 || t > VG_RULES_STATE_MAX_TIME_MS) {
		r->is_bad = true;
		return 0;
	}
	return t;
}

/* A count of items each at least min_bytes long. */
static size_t get_count(struct rd *r, size_t min_bytes)
{
	uint64_t v = get_uv(r);

	if (v > r->n / min_bytes) {
		r->is_bad = true;
		return 0;
	}
	return (size_t)v;
}

static char *get_str(struct rd *r)
{
	uint64_t len = get_uv(r);
	char *s;

	if (r->is_bad || len > r->n || memchr(r->p, 0, (size_t)len) != NULL) {
		r->is_bad = true;
		return NULL;
	}
	s = malloc((size_t)len + 1);
	if (s == NULL) {
		r->is_bad = true;
		return NULL;
	}
	memcpy(s, r->p, (size_t)len);
	s[len] = '\0';
	r->p += len;
	r->n -= (size_t)len;
	return s;
}

static void get_labels(struct rd *r, struct vg_conf_labels *l)
{
	size_t n = get_count(r, 2);

	memset(l, 0, sizeof(*l));
	if (r->is_bad || n == 0)
		return;
	l->names = calloc(n, sizeof(*l->names));
	l->values = calloc(n, sizeof(*l->values));
	if (l->names == NULL || l->values == NULL) {
		r->is_bad = true;
		return;
	}
	for (size_t i = 0; i < n && !r->is_bad; i++) {
		l->names[i] = get_str(r);
		l->values[i] = get_str(r);
		l->n = i + 1;
	}
}

void vg_rules_saved_release(struct vg_rules_saved *s)
{
	for (size_t i = 0; i < s->n_groups; i++) {
		free(s->groups[i].file);
		free(s->groups[i].name);
	}
	for (size_t i = 0; i < s->n_rules; i++) {
		free(s->rules[i].file);
		free(s->rules[i].group);
		free(s->rules[i].name);
		vg_alert_table_release(&s->rules[i].table);
	}
	free(s->groups);
	free(s->rules);
	memset(s, 0, sizeof(*s));
}

int vg_rules_persist_decode(const uint8_t *p, size_t n, struct vg_rules_saved *out, struct vg_err *err)
{
	struct vg_rules_saved s;
	struct rd r;
	size_t ng, nr;
	bool is_v1;

	memset(&s, 0, sizeof(s));
	if (n < MAGIC_LEN + 8 || (memcmp(p, MAGIC, MAGIC_LEN) != 0 && memcmp(p, MAGIC_V1, MAGIC_LEN) != 0))
		return vg_err_set(err, VG_EINVAL, "not an alert state file");
	is_v1 = memcmp(p, MAGIC_V1, MAGIC_LEN) == 0;
	if (XXH3_64bits(p, n - 8) != vg_get_le64(p + n - 8))
		return vg_err_set(err, VG_ECHECKSUM, "checksum mismatch");
	r = (struct rd){ p + MAGIC_LEN, n - MAGIC_LEN - 8, false };
	ng = get_count(&r, 3);
	if (ng && (s.groups = calloc(ng, sizeof(*s.groups))) == NULL)
		r.is_bad = true;
	for (size_t i = 0; i < ng && !r.is_bad; i++) {
		struct vg_rules_saved_group *g = &s.groups[i];
		g->file = get_str(&r);
		g->name = get_str(&r);
		g->last_eval_ms = get_time(&r);
		s.n_groups = i + 1;
	}
	nr = get_count(&r, 5);
	if (!r.is_bad && nr && (s.rules = calloc(nr, sizeof(*s.rules))) == NULL)
		r.is_bad = true;
	for (size_t i = 0; i < nr && !r.is_bad; i++) {
		struct vg_rules_saved_rule *ru = &s.rules[i];
		size_t ni;

		s.n_rules = i + 1;
		ru->file = get_str(&r);
		ru->group = get_str(&r);
		ru->index = (uint32_t)get_uv(&r);
		ru->name = get_str(&r);
		ni = get_count(&r, 15);
		for (size_t k = 0; k < ni && !r.is_bad; k++) {
			struct vg_alert_inst in;
			uint64_t st, bits;

			memset(&in, 0, sizeof(in));
			st = get_uv(&r);
			in.state = st == 1 ? VG_ALERT_PENDING : st == 2 ? VG_ALERT_FIRING : VG_ALERT_INACTIVE;
			if (st > 2)
				r.is_bad = true;
			in.active_at_ms = get_time(&r);
			in.fired_at_ms = get_time(&r);
			in.resolved_at_ms = get_time(&r);
			in.keep_firing_since_ms = get_time(&r);
			in.hold_until_ms = is_v1 ? 0 : get_time(&r);
			if (!r.is_bad && r.n >= 8) {
				bits = vg_get_le64(r.p);
				memcpy(&in.value, &bits, 8);
				r.p += 8;
				r.n -= 8;
			} else {
				r.is_bad = true;
			}
			get_labels(&r, &in.labels);
			get_labels(&r, &in.annotations);
			if (r.is_bad || vg_alert_table_put(&ru->table, &in) != 0) {
				vg_conf_labels_release(&in.labels);
				vg_conf_labels_release(&in.annotations);
				r.is_bad = true;
			}
		}
	}
	if (!r.is_bad && r.n != 0)
		r.is_bad = true;
	/* Every string present (a failed read leaves NULL). */
	for (size_t i = 0; !r.is_bad && i < s.n_groups; i++)
		r.is_bad = s.groups[i].file == NULL || s.groups[i].name == NULL;
	for (size_t i = 0; !r.is_bad && i < s.n_rules; i++)
		r.is_bad = s.rules[i].file == NULL || s.rules[i].group == NULL || s.rules[i].name == NULL;
	if (r.is_bad) {
		vg_rules_saved_release(&s);
		return vg_err_set(err, VG_EINVAL, "damaged alert state");
	}
	*out = s;
	return 0;
}

int vg_rules_persist_read(const char *data_dir, struct vg_rules_saved *out, struct vg_err *err)
{
	char path[4096];
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", data_dir, VG_RULES_STATE_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return vg_err_set(err, VG_ENOENT, "%s: none", path);
		return vg_err_set(err, VG_EIO, "open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > VG_RULES_STATE_MAX_BYTES) {
		close(fd);
		return vg_err_set(err, VG_EINVAL, "%s: unreadable or larger than %u bytes", path,
				  VG_RULES_STATE_MAX_BYTES);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	while (len < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + len, (size_t)st.st_size - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	rc = vg_rules_persist_decode(buf, len, out, err);
	if (rc != 0)
		vg_err_prefix(err, "%s", path);
	free(buf);
	return rc;
}
