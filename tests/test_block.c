/*
 * test_block.c: block files (receiver/storage/block_write.c, block_read.c)
 * and the selection logic they share with the head (postings.c): round
 * trips of many series and columns, selection against a brute-force
 * evaluation, label listings, the series order, writer input checks, every
 * byte of a block flipped and every truncation refused with the damaged
 * section named, the file-operations seam (a failed write, fdatasync or
 * rename leaves no file and the old ones intact), and concurrent readers.
 */
#include "config.h"

#include "receiver/storage/block_read.h"
#include "receiver/storage/block_write.h"
#include "receiver/storage/postings.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/selector.h"
#include "promql/parse.h"
#include "common/series.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/banned.h"

#define HEADER_BYTES 40
#define FOOTER_BYTES 152

/* An assertion for loops over many series: Check's own assertions each
 * report to the parent process, which costs more than the test itself. */
#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond))                                                        \
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);       \
	} while (0)

/* ---- fixtures ------------------------------------------------------------ */

static char tmpdir[4096];

static void make_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/vg-test-block-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char p[8192];
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(tmpdir);
}

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static size_t count_files(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	struct stat sb;
	uint8_t *p;
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	p = malloc((size_t)sb.st_size + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(pread(fd, p, (size_t)sb.st_size, 0), sb.st_size);
	close(fd);
	*len = (size_t)sb.st_size;
	return p;
}

static void write_file(const char *path, const uint8_t *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, len), (ssize_t)len);
	close(fd);
}

/* A deterministic generator (splitmix64). */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A test series: its key, times and columns. */
struct tseries {
	uint8_t *key;
	size_t key_len;
	int64_t min_t, max_t;
	uint64_t n_points;
	uint8_t *col[VG_BLOCK_MAX_COLUMNS];
	size_t col_len[VG_BLOCK_MAX_COLUMNS];
};

struct tset {
	struct tseries *s;
	size_t n;
	unsigned n_cols;
};

static int key_cmp_qsort(const void *a, const void *b)
{
	const struct tseries *x = a, *y = b;

	return vg_series_key_cmp(x->key, x->key_len, y->key, y->key_len);
}

static const char *const metrics[] = {
	"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_load1", "up",
	"up_x", "node_network_receive_bytes_total", "queue_depth", "http_requests_total",
};
static const char *const modes[] = { "idle", "user", "system", "iowait", "steal", "nice" };
static const char *const codes[] = { "200", "404", "500" };

/* Key of series i of a fleet-like set: metric, instance, job, pool, and
 * some optional labels (absent on most series), one name in upper case
 * (sorts before "__name__"). */
static void make_key(size_t i, struct vg_buf *out)
{
	char inst[32], pool[16];
	const char *metric = metrics[i % 8];
	struct vg_series s;

	snprintf(inst, sizeof(inst), "host-%zu", i / 8); /* unique with the metric */
	snprintf(pool, sizeof(pool), "pool%zu", i / 200 % 7);
	vg_series_init(&s, metric);
	CHECK((vg_series_add(&s, "instance", inst)) == 0);
	CHECK((vg_series_add(&s, "job", i % 3 ? "node" : "app")) == 0);
	CHECK((vg_series_add(&s, "pool", pool)) == 0);
	if (i % 8 == 0)
		CHECK((vg_series_add(&s, "mode", modes[i / 8 % 6])) == 0);
	if (i % 8 == 7)
		CHECK((vg_series_add(&s, "code", codes[i / 8 % 3])) == 0);
	if (i % 11 == 0)
		CHECK((vg_series_add(&s, "Zone", i % 2 ? "a" : "b")) == 0);
	if (i % 8 == 0)
		CHECK((vg_series_add(&s, "cpu", i / 48 % 2 ? "0" : "1")) == 0);
	CHECK((vg_series_canonicalize(&s, NULL)) == 0);
	vg_series_key(&s, out);
	CHECK(!vg_buf_failed(out));
}

/* n distinct series, sorted, with n_cols columns of lengths from lens(i,c). */
static void tset_make(struct tset *t, size_t n, unsigned n_cols, size_t max_col, uint64_t seed)
{
	struct vg_buf k = VG_BUF_INIT;

	t->s = calloc(n ? n : 1, sizeof(*t->s));
	CHECK(t->s != NULL);
	t->n = n;
	t->n_cols = n_cols;
	for (size_t i = 0; i < n; i++) {
		struct tseries *s = &t->s[i];

		vg_buf_reset(&k);
		make_key(i, &k);
		s->key = malloc(k.len);
		CHECK(s->key != NULL);
		memcpy(s->key, k.data, k.len);
		s->key_len = k.len;
		s->min_t = 1000 + (int64_t)(rnd(&seed) % 1000);
		s->max_t = s->min_t + (int64_t)(rnd(&seed) % 5000);
		s->n_points = rnd(&seed) % 1000;
		for (unsigned c = 0; c < n_cols; c++) {
			/* Some columns empty; some series with every column empty. */
			size_t len = (i % 13 == 5 || rnd(&seed) % 9 == 0) ? 0 : rnd(&seed) % (max_col + 1);
			s->col[c] = malloc(len ? len : 1);
			CHECK(s->col[c] != NULL);
			for (size_t b = 0; b < len; b++)
				s->col[c][b] = (uint8_t)(b % 7 == 0 ? rnd(&seed) : c + (i & 3));
			s->col_len[c] = len;
		}
	}
	vg_buf_release(&k);
	qsort(t->s, n, sizeof(*t->s), key_cmp_qsort);
}

static void tset_free(struct tset *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->s[i].key);
		for (unsigned c = 0; c < t->n_cols; c++)
			free(t->s[i].col[c]);
	}
	free(t->s);
}

static void tseries_cols(const struct tseries *s, unsigned n_cols, struct vg_block_col *cols)
{
	for (unsigned c = 0; c < n_cols; c++)
		cols[c] = (struct vg_block_col){ s->col[c], s->col_len[c] };
}

#define T_MIN 0
#define T_MAX 7200000

static int write_block_opts(const char *path, const struct tset *t, enum vg_tier tier,
			    size_t group_bytes, const struct vg_fileops *ops,
			    struct vg_block_write_stats *st, struct vg_err *err)
{
	struct vg_block_writer_options o = { tier, T_MIN, T_MAX, group_bytes, 0, ops, 0 };
	struct vg_block_writer *w;
	struct vg_block_col cols[VG_BLOCK_MAX_COLUMNS];
	int rc;

	if ((rc = vg_block_writer_open(path, &o, &w, err)) != 0)
		return rc;
	for (size_t i = 0; i < t->n; i++) {
		tseries_cols(&t->s[i], t->n_cols, cols);
		rc = vg_block_writer_add(w, t->s[i].key, t->s[i].key_len, t->s[i].min_t,
					 t->s[i].max_t, t->s[i].n_points, cols, err);
		if (rc != 0) {
			vg_block_writer_abort(w);
			return rc;
		}
	}
	return vg_block_writer_finish(w, st, err);
}

static void write_block(const char *path, const struct tset *t, enum vg_tier tier,
			size_t group_bytes, struct vg_block_write_stats *st)
{
	struct vg_err err;
	int rc = write_block_opts(path, t, tier, group_bytes, NULL, st, &err);

	ck_assert_msg(rc == 0, "write: %s", err.msg);
}

static struct vg_block *open_ok(const char *path)
{
	struct vg_block *b;
	struct vg_err err;
	int rc = vg_block_open(path, &b, NULL, &err);

	ck_assert_msg(rc == 0, "open: %s", err.msg);
	return b;
}

/* Every series of b equals t's, key, times and columns. */
static void check_roundtrip(struct vg_block *b, const struct tset *t)
{
	struct vg_block_cursor *c = vg_block_cursor_new();
	struct vg_block_col cols[VG_BLOCK_MAX_COLUMNS];
	struct vg_buf k = VG_BUF_INIT;
	struct vg_block_info info;
	uint64_t points = 0;

	ck_assert_ptr_nonnull(c);
	vg_block_info(b, &info);
	CHECK((info.n_series) == (t->n));
	CHECK((info.n_columns) == (t->n_cols));
	CHECK((info.min_t) == (T_MIN));
	CHECK((info.max_t) == (T_MAX));
	for (size_t i = 0; i < t->n; i++) {
		struct vg_block_series_info si;
		struct vg_err err;
		uint32_t idx = UINT32_MAX;

		vg_buf_reset(&k);
		CHECK(vg_block_series_key(b, (uint32_t)i, &k) == 0);
		CHECK((k.len) == (t->s[i].key_len));
		CHECK(memcmp(k.data, t->s[i].key, k.len) == 0);
		vg_block_series_info(b, (uint32_t)i, &si);
		CHECK((si.min_t) == (t->s[i].min_t));
		CHECK((si.max_t) == (t->s[i].max_t));
		CHECK((si.n_points) == (t->s[i].n_points));
		points += si.n_points;
		if (vg_block_read_columns(b, (uint32_t)i, c, cols, &err) != 0)
			ck_abort_msg("%s", err.msg);
		for (unsigned col = 0; col < t->n_cols; col++) {
			CHECK((cols[col].len) == (t->s[i].col_len[col]));
			CHECK(cols[col].len == 0 ||
				  memcmp(cols[col].p, t->s[i].col[col], cols[col].len) == 0);
		}
		CHECK(vg_block_find(b, t->s[i].key, t->s[i].key_len, &idx) == 0);
		CHECK((idx) == (i));
	}
	CHECK((info.n_points) == (points));
	vg_buf_release(&k);
	vg_block_cursor_free(c);
}

/* ---- postings ------------------------------------------------------------- */

static size_t rand_list(uint64_t *seed, uint32_t *out, size_t max_n, uint32_t range)
{
	size_t n = 0;
	uint32_t p = (uint32_t)(rnd(seed) % 4);

	while (n < max_n && p < range) {
		out[n++] = p;
		p += 1 + (uint32_t)(rnd(seed) % (range / (max_n ? max_n : 1) + 1));
	}
	return n;
}

static bool in(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

START_TEST(test_postings_set_operations_match_brute_force)
{
	static uint32_t a[4000], b[4000], a2[4000];
	uint64_t seed = 42;

	for (int round = 0; round < 300; round++) {
		/* Lopsided lists too (exercise the seeking paths). */
		size_t na = rand_list(&seed, a, round % 3 == 0 ? 5 : 1 + rnd(&seed) % 3000, 20000);
		size_t nb = rand_list(&seed, b, round % 5 == 0 ? 3 : 1 + rnd(&seed) % 3000, 20000);
		struct vg_postings u = VG_POSTINGS_INIT;
		size_t n, k;

		CHECK(vg_postings_is_sorted(a, na) && vg_postings_is_sorted(b, nb));
		memcpy(a2, a, na * sizeof(*a));
		n = vg_postings_intersect(a2, na, b, nb);
		k = 0;
		for (size_t i = 0; i < na; i++)
			if (in(b, nb, a[i]))
				CHECK((a2[k++]) == (a[i]));
		CHECK((n) == (k));

		memcpy(a2, a, na * sizeof(*a));
		n = vg_postings_subtract(a2, na, b, nb);
		k = 0;
		for (size_t i = 0; i < na; i++)
			if (!in(b, nb, a[i]))
				CHECK((a2[k++]) == (a[i]));
		CHECK((n) == (k));

		CHECK(vg_postings_union(a, na, b, nb, &u) == 0);
		CHECK(vg_postings_is_sorted(u.ids, u.n));
		k = na;
		for (size_t i = 0; i < nb; i++)
			if (!in(a, na, b[i]))
				k++;
		CHECK((u.n) == (k));
		for (size_t i = 0; i < u.n; i++)
			CHECK(in(a, na, u.ids[i]) || in(b, nb, u.ids[i]));
		vg_postings_release(&u);
	}
	CHECK(vg_postings_intersect(a, 0, b, 5) == 0);
	CHECK(vg_postings_subtract(a, 3, b, 0) == 3);
}
END_TEST

/* ---- round trips ----------------------------------------------------------- */

START_TEST(test_block_roundtrip_raw_many_series)
{
	struct vg_block_write_stats st;
	struct tset t;
	struct vg_block *b;
	struct vg_block_cursor *c;
	struct vg_err err;
	char path[8192];

	make_tmpdir();
	path_in(path, sizeof(path), "raw.vgb");
	tset_make(&t, 3000, VG_BLOCK_RAW_COLUMNS, 900, 1);
	write_block(path, &t, VG_TIER_RAW, 0, &st);
	ck_assert_uint_eq(st.n_series, 3000);
	ck_assert_uint_gt(st.n_groups, 10); /* ~2.7 MB of columns in 64 KiB groups */
	b = open_ok(path);
	check_roundtrip(b, &t);
	c = vg_block_cursor_new();
	ck_assert_msg(vg_block_verify(b, c, NULL, &err) == 0, "%s", err.msg);
	vg_block_cursor_free(c);
	/* Only the block: no temporary left. */
	ck_assert_uint_eq(count_files(), 1);
	vg_block_close(b);
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

START_TEST(test_block_roundtrip_rollup_seven_columns_and_big_series)
{
	struct tset t;
	struct vg_block *b;
	char path[8192];

	make_tmpdir();
	path_in(path, sizeof(path), "1h.vgb");
	tset_make(&t, 300, VG_BLOCK_ROLLUP_COLUMNS, 400, 2);
	/* Two series far larger than a group: each gets a group of its own. */
	for (size_t i = 10; i < 300; i += 200) {
		free(t.s[i].col[3]);
		t.s[i].col_len[3] = 300000;
		t.s[i].col[3] = malloc(300000);
		for (size_t k = 0; k < 300000; k++)
			t.s[i].col[3][k] = (uint8_t)(k * 31 + i);
	}
	write_block(path, &t, VG_TIER_1H, 16384, NULL);
	b = open_ok(path);
	check_roundtrip(b, &t);
	vg_block_close(b);
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

START_TEST(test_block_roundtrip_one_series_and_empty_block)
{
	struct tset t;
	struct vg_block *b;
	struct vg_block_info info;
	struct vg_postings ids = VG_POSTINGS_INIT;
	struct vg_selector sel;
	struct vg_str *names;
	size_t n;
	char path[8192];

	make_tmpdir();
	path_in(path, sizeof(path), "one.vgb");
	tset_make(&t, 1, VG_BLOCK_ROLLUP_COLUMNS, 50, 3);
	write_block(path, &t, VG_TIER_1M, 0, NULL);
	b = open_ok(path);
	check_roundtrip(b, &t);
	vg_block_close(b);
	tset_free(&t);

	/* No series at all: a valid, empty block. */
	path_in(path, sizeof(path), "empty.vgb");
	tset_make(&t, 0, VG_BLOCK_RAW_COLUMNS, 0, 4);
	write_block(path, &t, VG_TIER_RAW, 0, NULL);
	b = open_ok(path);
	vg_block_info(b, &info);
	ck_assert_uint_eq(info.n_series, 0);
	ck_assert_uint_eq(info.n_groups, 0);
	ck_assert_int_eq(vg_promql_parse_selector("up", 2, &sel, NULL, NULL), 0);
	ck_assert_int_eq(vg_block_select(b, &sel, &ids, NULL), 0);
	ck_assert_uint_eq(ids.n, 0);
	vg_selector_release(&sel);
	ck_assert_int_eq(vg_block_label_names(b, &names, &n), 0);
	ck_assert_uint_eq(n, 0);
	vg_postings_release(&ids);
	vg_block_close(b);
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

/* The index sections of one block, pinned: what the writer puts in
 * symbols, series and postings does not change with how it keeps its
 * strings meanwhile (block_write.c interns them in a symtab.h table).
 * The columns and groups are zstd's output, so they are not pinned. */
START_TEST(test_block_index_sections_are_pinned)
{
	static const uint64_t want[3][2] = {
		/* length, XXH3_64 with the section's seed */
		{ 4802, 0x7d9e8a684899373eULL },
		{ 95635, 0xb7ff2a5dc436bdd5ULL },
		{ 21260, 0xdcd6a119aa276be3ULL },
	};
	struct tset t;
	char path[8192];
	uint64_t got[3][2];
	bool is_same = true;
	uint8_t *f, *foot;
	size_t len;

	make_tmpdir();
	path_in(path, sizeof(path), "pinned.vgb");
	tset_make(&t, 3000, VG_BLOCK_RAW_COLUMNS, 40, 11);
	write_block(path, &t, VG_TIER_RAW, 0, NULL);
	f = read_file(path, &len);
	ck_assert_uint_gt(len, HEADER_BYTES + FOOTER_BYTES);
	foot = f + len - FOOTER_BYTES;
	for (int i = 0; i < 3; i++) {
		const uint8_t *e = foot + 16 + 24 * (2 + i); /* symbols, series, postings */
		got[i][0] = vg_get_le64(e + 8);
		got[i][1] = vg_get_le64(e + 16);
		is_same = is_same && got[i][0] == want[i][0] && got[i][1] == want[i][1];
	}
	ck_assert_msg(is_same, "symbols %" PRIu64 " 0x%016" PRIx64 ", series %" PRIu64 " 0x%016" PRIx64
		      ", postings %" PRIu64 " 0x%016" PRIx64, got[0][0], got[0][1], got[1][0], got[1][1],
		      got[2][0], got[2][1]);
	free(f);
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

START_TEST(test_block_roundtrip_100k_series)
{
	struct vg_block_write_stats st;
	struct vg_block_info info;
	struct tset t;
	struct vg_block *b;
	struct vg_postings ids = VG_POSTINGS_INIT;
	struct vg_selector sel;
	const char *q = "{__name__=\"up\",job=\"node\"}";
	char path[8192];
	size_t expect = 0;

	make_tmpdir();
	path_in(path, sizeof(path), "big.vgb");
	tset_make(&t, 100000, VG_BLOCK_RAW_COLUMNS, 40, 5);
	write_block(path, &t, VG_TIER_RAW, 0, &st);
	b = open_ok(path);
	vg_block_info(b, &info);
	CHECK((info.n_series) == (100000));
	CHECK((info.index_bytes) == (st.index_bytes));
	check_roundtrip(b, &t);
	CHECK(vg_promql_parse_selector(q, strlen(q), &sel, NULL, NULL) == 0);
	CHECK(vg_block_select(b, &sel, &ids, NULL) == 0);
	for (size_t i = 0; i < 100000; i++) {
		struct vg_series s;
		CHECK(vg_series_from_key(t.s[i].key, t.s[i].key_len, &s) == 0);
		if (vg_selector_match(&sel, &s) == 1)
			CHECK((ids.ids[expect++]) == (i));
	}
	CHECK((ids.n) == (expect));
	ck_assert_uint_gt(expect, 1000);
	vg_selector_release(&sel);
	vg_postings_release(&ids);
	vg_block_close(b);
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

START_TEST(test_block_cursor_serves_several_blocks)
{
	struct vg_block_cursor *c = vg_block_cursor_new();
	struct vg_block_col cols[VG_BLOCK_MAX_COLUMNS];
	struct tset t1, t2;
	struct vg_block *b1, *b2;
	char p1[8192], p2[8192];

	make_tmpdir();
	path_in(p1, sizeof(p1), "a.vgb");
	path_in(p2, sizeof(p2), "b.vgb");
	tset_make(&t1, 50, VG_BLOCK_RAW_COLUMNS, 100, 10);
	tset_make(&t2, 50, VG_BLOCK_RAW_COLUMNS, 100, 11); /* same keys, other bytes */
	write_block(p1, &t1, VG_TIER_RAW, 0, NULL);
	write_block(p2, &t2, VG_TIER_RAW, 0, NULL);
	b1 = open_ok(p1);
	b2 = open_ok(p2);
	for (uint32_t i = 0; i < 50; i++) {
		const struct tset *t = i % 2 ? &t1 : &t2;
		ck_assert_int_eq(vg_block_read_columns(i % 2 ? b1 : b2, i, c, cols, NULL), 0);
		ck_assert_uint_eq(cols[1].len, t->s[i].col_len[1]);
		ck_assert(cols[1].len == 0 || memcmp(cols[1].p, t->s[i].col[1], cols[1].len) == 0);
	}
	/* A reference outlives the first close. */
	vg_block_ref(b1);
	vg_block_close(b1);
	ck_assert_int_eq(vg_block_read_columns(b1, 3, c, cols, NULL), 0);
	vg_block_close(b1);
	vg_block_close(b2);
	vg_block_cursor_free(c);
	tset_free(&t1);
	tset_free(&t2);
	remove_tmpdir();
}
END_TEST

/* ---- selection and labels ----------------------------------------------- */

static const char *const selectors[] = {
	"up",
	"up_x",
	"node_cpu_seconds_total{mode=\"idle\"}",
	"node_cpu_seconds_total{mode!=\"idle\"}",
	"{__name__=~\"node_.+\"}",
	"{__name__=~\"node_.+\",job!=\"node\"}",
	"{__name__!~\"node_.*\",job=\"app\"}",
	"{mode=~\"i.*|s.*\"}",
	"{mode!~\"idle|user\",__name__=\"node_cpu_seconds_total\"}",
	"{code=\"\",job=\"app\"}",           /* absent label = "" */
	"{code!=\"\"}",                       /* has the label */
	"{code=~\"5..|\",job=\"node\"}",     /* regex matching "" too */
	"{code!~\"2..\",__name__=\"http_requests_total\"}",
	"{Zone=\"a\"}",
	"{Zone=\"b\",mode=\"\",job=~\"no.*\"}",
	"{instance=\"host-3\"}",
	"{instance=~\"host-1.*\",pool=\"pool0\"}",
	"{instance=\"host-3\",instance!=\"host-3\"}",
	"{nosuchlabel=\"x\"}",
	"{nosuchlabel=~\".+\"}",
	"{nosuchlabel!=\"x\",job=\"node\"}",
	"{nosuchlabel=\"\",__name__=\"up\"}",
	"up{job=\"nosuchvalue\"}",
	"{__name__=~\".+\"}",
	"{job=~\"node|app\",pool!~\"pool[0-3]\",cpu=~\"1|\"}",
};

static void check_selectors(struct vg_block *b, const struct tset *t)
{
	struct vg_postings ids = VG_POSTINGS_INIT;

	for (size_t q = 0; q < sizeof(selectors) / sizeof(selectors[0]); q++) {
		struct vg_selector sel;
		struct vg_err err;
		size_t expect = 0;

		ck_assert_msg(vg_promql_parse_selector(selectors[q], strlen(selectors[q]), &sel, NULL, &err) == 0,
			      "%s: %s", selectors[q], err.msg);
		CHECK(vg_block_select(b, &sel, &ids, &err) == 0);
		CHECK(vg_postings_is_sorted(ids.ids, ids.n));
		for (size_t i = 0; i < t->n; i++) {
			struct vg_series s;
			CHECK(vg_series_from_key(t->s[i].key, t->s[i].key_len, &s) == 0);
			if (vg_selector_match(&sel, &s) != 1)
				continue;
			if (expect >= ids.n || ids.ids[expect] != i)
				ck_abort_msg("%s: series %zu missing", selectors[q], i);
			expect++;
		}
		ck_assert_msg(ids.n == expect, "%s: %zu selected, %zu expected", selectors[q], ids.n,
			      expect);
		vg_selector_release(&sel);
	}
	vg_postings_release(&ids);
}

START_TEST(test_block_select_matches_brute_force)
{
	struct tset t;
	struct vg_block *b;
	char path[8192];

	make_tmpdir();
	path_in(path, sizeof(path), "sel.vgb");
	tset_make(&t, 5000, VG_BLOCK_RAW_COLUMNS, 10, 6);
	write_block(path, &t, VG_TIER_RAW, 0, NULL);
	b = open_ok(path);
	check_selectors(b, &t);
	vg_block_close(b);
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

/* A second index behind the same selection code, as the head holds one:
 * pairs with arrays of ids that are ascending but not dense (id 3i+1 for
 * series i), found by a linear scan. It shows what an index must provide. */
struct simple_pair {
	struct vg_str name, value;
	struct vg_postings ids;
};

struct simple_index {
	struct simple_pair *pairs;
	size_t n, cap;
	uint32_t n_series;
};

static struct simple_pair *simple_find(struct simple_index *x, struct vg_str n, struct vg_str v)
{
	for (size_t i = 0; i < x->n; i++)
		if (vg_str_eq(x->pairs[i].name, n) && vg_str_eq(x->pairs[i].value, v))
			return &x->pairs[i];
	return NULL;
}

static int simple_label_values(void *index, struct vg_str name, vg_label_value_fn fn, void *arg)
{
	struct simple_index *x = index;
	int rc;

	for (size_t i = 0; i < x->n; i++)
		if (vg_str_eq(x->pairs[i].name, name) && (rc = fn(arg, x->pairs[i].value, i)) != 0)
			return rc;
	return 0;
}

static int simple_append(const struct vg_postings *from, struct vg_postings *out)
{
	if (vg_postings_reserve(out, from->n) != 0)
		return VG_ENOMEM;
	if (from->n > 0)
		memcpy(out->ids + out->n, from->ids, from->n * sizeof(uint32_t));
	out->n += from->n;
	return 0;
}

static int simple_postings_ref(void *index, uint64_t ref, struct vg_postings *out)
{
	return simple_append(&((struct simple_index *)index)->pairs[ref].ids, out);
}

static int simple_postings(void *index, struct vg_str name, struct vg_str value,
			   struct vg_postings *out)
{
	struct simple_pair *p = simple_find(index, name, value);

	return p == NULL ? 0 : simple_append(&p->ids, out);
}

static int simple_all(void *index, struct vg_postings *out)
{
	struct simple_index *x = index;

	for (uint32_t i = 0; i < x->n_series; i++)
		if (vg_postings_push(out, 3 * i + 1) != 0)
			return VG_ENOMEM;
	return 0;
}

static const struct vg_label_index_ops simple_ops = {
	simple_label_values, simple_postings_ref, simple_postings, simple_all,
};

static void simple_add(struct simple_index *x, struct vg_str n, struct vg_str v, uint32_t id)
{
	struct simple_pair *p = simple_find(x, n, v);

	if (p == NULL) {
		if (x->n == x->cap) {
			x->cap = x->cap ? x->cap * 2 : 64;
			x->pairs = realloc(x->pairs, x->cap * sizeof(*x->pairs));
			CHECK(x->pairs != NULL);
		}
		p = &x->pairs[x->n++];
		p->name = n;
		p->value = v;
		vg_postings_init(&p->ids);
	}
	CHECK(vg_postings_push(&p->ids, id) == 0);
}

START_TEST(test_postings_select_over_another_index_matches_brute_force)
{
	struct simple_index x = { NULL, 0, 0, 0 };
	struct vg_label_index ix = { &simple_ops, &x };
	struct vg_postings ids = VG_POSTINGS_INIT;
	struct tset t;

	tset_make(&t, 1500, VG_BLOCK_RAW_COLUMNS, 0, 16);
	for (size_t i = 0; i < t.n; i++) {
		struct vg_series s;
		CHECK(vg_series_from_key(t.s[i].key, t.s[i].key_len, &s) == 0);
		simple_add(&x, vg_str_c("__name__"), s.name, 3 * (uint32_t)i + 1);
		for (uint32_t l = 0; l < s.n_labels; l++)
			simple_add(&x, s.labels[l].name, s.labels[l].value, 3 * (uint32_t)i + 1);
	}
	x.n_series = (uint32_t)t.n;
	for (size_t q = 0; q < sizeof(selectors) / sizeof(selectors[0]); q++) {
		struct vg_selector sel;
		size_t expect = 0;

		ck_assert_int_eq(vg_promql_parse_selector(selectors[q], strlen(selectors[q]), &sel, NULL, NULL), 0);
		ck_assert_int_eq(vg_postings_select(&ix, &sel, &ids, NULL), 0);
		for (size_t i = 0; i < t.n; i++) {
			struct vg_series s;
			CHECK(vg_series_from_key(t.s[i].key, t.s[i].key_len, &s) == 0);
			if (vg_selector_match(&sel, &s) != 1)
				continue;
			if (expect >= ids.n || ids.ids[expect] != 3 * i + 1)
				ck_abort_msg("%s: series %zu missing", selectors[q], i);
			expect++;
		}
		ck_assert_msg(ids.n == expect, "%s: %zu selected, %zu expected", selectors[q], ids.n,
			      expect);
		vg_selector_release(&sel);
	}
	/* No matchers at all: every id. */
	{
		struct vg_selector none = VG_SELECTOR_INIT;
		ck_assert_int_eq(vg_postings_select(&ix, &none, &ids, NULL), 0);
		ck_assert_uint_eq(ids.n, t.n);
	}
	for (size_t i = 0; i < x.n; i++)
		vg_postings_release(&x.pairs[i].ids);
	free(x.pairs);
	vg_postings_release(&ids);
	tset_free(&t);
}
END_TEST

static int str_qsort(const void *a, const void *b)
{
	return vg_str_cmp(*(const struct vg_str *)a, *(const struct vg_str *)b);
}

START_TEST(test_block_label_names_and_values)
{
	struct vg_str *names, *values, all[64], want[8192];
	size_t n_names, n_values, n_all = 0;
	struct tset t;
	struct vg_block *b;
	char path[8192];

	make_tmpdir();
	path_in(path, sizeof(path), "labels.vgb");
	tset_make(&t, 2000, VG_BLOCK_RAW_COLUMNS, 10, 7);
	write_block(path, &t, VG_TIER_RAW, 0, NULL);
	b = open_ok(path);
	CHECK(vg_block_label_names(b, &names, &n_names) == 0);
	/* Brute force: every label name of every series, "__name__" included. */
	all[n_all++] = vg_str_c("__name__");
	for (size_t i = 0; i < t.n; i++) {
		struct vg_series s;
		CHECK(vg_series_from_key(t.s[i].key, t.s[i].key_len, &s) == 0);
		for (uint32_t l = 0; l < s.n_labels; l++) {
			size_t k;
			for (k = 0; k < n_all && !vg_str_eq(all[k], s.labels[l].name); k++)
				;
			if (k == n_all)
				all[n_all++] = s.labels[l].name;
		}
	}
	qsort(all, n_all, sizeof(all[0]), str_qsort);
	CHECK((n_names) == (n_all));
	for (size_t i = 0; i < n_all; i++)
		CHECK(vg_str_eq(names[i], all[i]));

	for (size_t l = 0; l < n_names; l++) {
		char name[300];
		size_t n_want = 0;

		snprintf(name, sizeof(name), "%.*s", (int)names[l].len, names[l].p);
		CHECK(vg_block_label_values(b, name, &values, &n_values) == 0);
		for (size_t i = 0; i < t.n; i++) {
			struct vg_series s;
			const struct vg_str *v;
			size_t k;
			CHECK(vg_series_from_key(t.s[i].key, t.s[i].key_len, &s) == 0);
			v = strcmp(name, "__name__") == 0 ? &s.name : vg_series_get(&s, name);
			if (v == NULL)
				continue;
			for (k = 0; k < n_want && !vg_str_eq(want[k], *v); k++)
				;
			if (k == n_want)
				want[n_want++] = *v;
		}
		qsort(want, n_want, sizeof(want[0]), str_qsort);
		CHECK((n_values) == (n_want));
		for (size_t i = 0; i < n_want; i++)
			CHECK(vg_str_eq(values[i], want[i]));
		free(values);
	}
	CHECK(vg_block_label_values(b, "nosuchlabel", &values, &n_values) == 0);
	CHECK((n_values) == (0));
	free(names);
	vg_block_close(b);
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

/* ---- order and writer checks ---------------------------------------------- */

static void key_of(struct vg_buf *out, const char *name, const char *l1, const char *v1)
{
	struct vg_series s;

	vg_buf_reset(out);
	vg_series_init(&s, name);
	if (l1 != NULL)
		ck_assert_int_eq(vg_series_add(&s, l1, v1), 0);
	ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
	vg_series_key(&s, out);
}

START_TEST(test_series_key_order_is_prometheus_labels_compare)
{
	struct vg_buf a = VG_BUF_INIT, b = VG_BUF_INIT;

	/* "up" < "up_x": by the name's string, not by the key's bytes. */
	key_of(&a, "up", NULL, NULL);
	key_of(&b, "up_x", NULL, NULL);
	ck_assert_int_lt(vg_series_key_cmp(a.data, a.len, b.data, b.len), 0);
	ck_assert_int_gt(memcmp(a.data, b.data, 3), 0); /* the raw bytes disagree */
	/* A prefix first. */
	key_of(&b, "up", "job", "x");
	ck_assert_int_lt(vg_series_key_cmp(a.data, a.len, b.data, b.len), 0);
	/* "Zone" sorts before "__name__", so it is compared first. */
	key_of(&a, "zzz", "Zone", "a");
	key_of(&b, "aaa", "Zone", "b");
	ck_assert_int_lt(vg_series_key_cmp(a.data, a.len, b.data, b.len), 0);
	/* "job" sorts after "__name__": the name decides. */
	key_of(&a, "zzz", "job", "a");
	key_of(&b, "aaa", "job", "b");
	ck_assert_int_gt(vg_series_key_cmp(a.data, a.len, b.data, b.len), 0);
	ck_assert_int_eq(vg_series_key_cmp(a.data, a.len, a.data, a.len), 0);
	vg_buf_release(&a);
	vg_buf_release(&b);
}
END_TEST

START_TEST(test_block_writer_refuses_bad_input_and_stays_usable)
{
	struct vg_block_writer_options o = { VG_TIER_RAW, 0, 1000, 0, 0, NULL, 0 };
	struct vg_block_col cols[2] = { { (const uint8_t *)"ab", 2 }, { (const uint8_t *)"c", 1 } };
	struct vg_buf k1 = VG_BUF_INIT, k2 = VG_BUF_INIT;
	static const uint8_t not_canonical[] = "up\xffzz\xff" "1\xff" "aa\xff" "2\xff";
	static const uint8_t empty_value[] = "up\xff" "aa\xff\xff";
	struct vg_block_writer *w;
	struct vg_block *b;
	struct vg_err err;
	char path[8192];

	make_tmpdir();
	path_in(path, sizeof(path), "checks.vgb");
	ck_assert_int_eq(vg_block_writer_open(path, &o, &w, &err), 0);
	key_of(&k1, "up", "job", "b");
	key_of(&k2, "up", "job", "a");
	ck_assert_int_eq(vg_block_writer_add(w, k1.data, k1.len, 0, 999, 2, cols, &err), 0);
	/* Not after the previous; the same again. */
	ck_assert_int_eq(vg_block_writer_add(w, k2.data, k2.len, 0, 10, 2, cols, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not after"));
	ck_assert_int_eq(vg_block_writer_add(w, k1.data, k1.len, 0, 10, 2, cols, &err), VG_EINVAL);
	/* Labels out of order, an empty value, not a key at all. */
	ck_assert_int_eq(vg_block_writer_add(w, not_canonical, sizeof(not_canonical) - 1, 0, 1, 1,
					     cols, &err), VG_EINVAL);
	ck_assert_int_eq(vg_block_writer_add(w, empty_value, sizeof(empty_value) - 1, 0, 1, 1,
					     cols, &err), VG_EINVAL);
	ck_assert_int_eq(vg_block_writer_add(w, (const uint8_t *)"up", 2, 0, 1, 1, cols, &err),
			 VG_EINVAL);
	/* Times outside [0, 1000) or reversed. */
	key_of(&k2, "up", "job", "c");
	ck_assert_int_eq(vg_block_writer_add(w, k2.data, k2.len, -1, 10, 1, cols, &err), VG_EINVAL);
	ck_assert_int_eq(vg_block_writer_add(w, k2.data, k2.len, 0, 1000, 1, cols, &err), VG_EINVAL);
	ck_assert_int_eq(vg_block_writer_add(w, k2.data, k2.len, 20, 10, 1, cols, &err), VG_EINVAL);
	/* Still usable. */
	ck_assert_int_eq(vg_block_writer_add(w, k2.data, k2.len, 0, 999, 2, cols, &err), 0);
	ck_assert_int_eq(vg_block_writer_finish(w, NULL, &err), 0);
	b = open_ok(path);
	{
		struct vg_block_info info;
		vg_block_info(b, &info);
		ck_assert_uint_eq(info.n_series, 2);
	}
	vg_block_close(b);
	/* Bad options. */
	o.tier = (enum vg_tier)7;
	ck_assert_int_eq(vg_block_writer_open(path, &o, &w, &err), VG_EINVAL);
	o.tier = VG_TIER_RAW;
	o.max_t = o.min_t;
	ck_assert_int_eq(vg_block_writer_open(path, &o, &w, &err), VG_EINVAL);
	vg_buf_release(&k1);
	vg_buf_release(&k2);
	remove_tmpdir();
}
END_TEST

/* ---- damage ------------------------------------------------------------------ */

struct layout {
	uint64_t off[7], len[7]; /* by enum vg_block_section */
};

static void layout_of(const uint8_t *f, size_t size, struct layout *l)
{
	const uint8_t *foot = f + size - FOOTER_BYTES;

	l->off[VG_BLOCK_SECTION_HEADER] = 0;
	l->len[VG_BLOCK_SECTION_HEADER] = HEADER_BYTES;
	for (int i = 0; i < 5; i++) {
		l->off[i + 1] = vg_get_le64(foot + 16 + 24 * i);
		l->len[i + 1] = vg_get_le64(foot + 24 + 24 * i);
	}
	l->off[VG_BLOCK_SECTION_FOOTER] = size - FOOTER_BYTES;
	l->len[VG_BLOCK_SECTION_FOOTER] = FOOTER_BYTES;
}

static int section_at(const struct layout *l, uint64_t off)
{
	for (int s = 0; s < 7; s++)
		if (off >= l->off[s] && off < l->off[s] + l->len[s])
			return s;
	return -1;
}

/* Reads every series' columns and verifies; the first error, or 0. */
static int read_everything(struct vg_block *b, struct vg_block_damage *d, struct vg_err *err)
{
	struct vg_block_cursor *c = vg_block_cursor_new();
	struct vg_block_col cols[VG_BLOCK_MAX_COLUMNS];
	struct vg_block_info info;
	int rc = 0;

	vg_block_info(b, &info);
	for (uint32_t i = 0; i < info.n_series && rc == 0; i++)
		rc = vg_block_read_columns(b, i, c, cols, err);
	if (rc == 0)
		rc = vg_block_verify(b, c, d, err);
	vg_block_cursor_free(c);
	return rc;
}

START_TEST(test_block_every_flipped_byte_is_caught_in_its_section)
{
	struct vg_block_damage d;
	struct layout lay;
	struct tset t;
	struct vg_block *b;
	struct vg_err err;
	uint8_t *f, *m;
	size_t size;
	char path[8192];
	int seen[7] = { 0 };

	make_tmpdir();
	path_in(path, sizeof(path), "flip.vgb");
	tset_make(&t, 40, VG_BLOCK_RAW_COLUMNS, 60, 8);
	write_block(path, &t, VG_TIER_RAW, 512, NULL);
	f = read_file(path, &size);
	layout_of(f, size, &lay);
	m = malloc(size);
	for (size_t off = 0; off < size; off++) {
		int want = section_at(&lay, off), rc;

		CHECK(want >= 0);
		memcpy(m, f, size);
		m[off] ^= (uint8_t)(1u << (off % 8));
		memset(&d, 0xff, sizeof(d));
		rc = vg_block_open_mem(m, size, "flip.vgb", &b, &d, &err);
		if (want == VG_BLOCK_SECTION_COLUMNS) {
			/* Not read at open: the group's own checksum catches it. */
			if (rc != 0)
				ck_abort_msg("offset %zu: %s", off, err.msg);
			rc = read_everything(b, &d, &err);
			CHECK(rc == VG_ECHECKSUM);
			CHECK(strstr(err.msg, "columns section") != NULL);
			vg_block_close(b);
		} else {
			if (rc == 0)
				ck_abort_msg("offset %zu (section %d) accepted", off, want);
			CHECK(b == NULL);
			if ((int)d.section != want)
				ck_abort_msg("offset %zu: section %d reported, %d hit: %s", off,
					     (int)d.section, want, err.msg);
			CHECK(strstr(err.msg, "flip.vgb: ") != NULL);
		}
		seen[want]++;
	}
	for (int s = 0; s < 7; s++)
		ck_assert_msg(seen[s] > 0, "section %d never hit", s);
	free(m);
	free(f);
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

START_TEST(test_block_every_truncation_is_refused)
{
	struct vg_block_damage d;
	struct tset t;
	struct vg_block *b;
	struct vg_err err;
	uint8_t *f, *g;
	size_t size;
	char path[8192], cut[8192];

	make_tmpdir();
	path_in(path, sizeof(path), "whole.vgb");
	path_in(cut, sizeof(cut), "cut.vgb");
	tset_make(&t, 30, VG_BLOCK_ROLLUP_COLUMNS, 30, 9);
	write_block(path, &t, VG_TIER_1M, 0, NULL);
	f = read_file(path, &size);
	/* Through the file path (mmap, and the short-file read). */
	for (size_t len = 0; len < size; len += (len < 300 || size - len < 300) ? 1 : 7) {
		write_file(cut, f, len);
		ck_assert_int_ne(vg_block_open(cut, &b, &d, &err), 0);
		ck_assert_ptr_null(b);
		ck_assert_ptr_nonnull(strstr(err.msg, "cut.vgb: "));
		ck_assert(d.section == VG_BLOCK_SECTION_HEADER || d.section == VG_BLOCK_SECTION_FOOTER);
	}
	/* Garbage after the end moves the footer: refused too. */
	g = malloc(size + 10);
	memcpy(g, f, size);
	memset(g + size, 0, 10);
	write_file(cut, g, size + 10);
	ck_assert_int_ne(vg_block_open(cut, &b, &d, &err), 0);
	ck_assert_int_eq(d.section, VG_BLOCK_SECTION_FOOTER);
	/* A missing file. */
	path_in(cut, sizeof(cut), "missing.vgb");
	ck_assert_int_eq(vg_block_open(cut, &b, NULL, &err), VG_EIO);
	free(g);
	free(f);
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

START_TEST(test_block_newer_version_refused)
{
	struct vg_block_damage d;
	struct tset t;
	struct vg_block *b;
	struct vg_err err;
	uint8_t *f, *foot;
	size_t size;
	char path[8192];

	make_tmpdir();
	path_in(path, sizeof(path), "v2.vgb");
	tset_make(&t, 3, VG_BLOCK_RAW_COLUMNS, 30, 12);
	write_block(path, &t, VG_TIER_RAW, 0, NULL);
	f = read_file(path, &size);
	/* Version 3 with every checksum made good again. */
	f[4] = 3;
	vg_put_le64(f + 32, XXH3_64bits(f, 32));
	foot = f + size - FOOTER_BYTES;
	vg_put_le64(foot + 8, XXH3_64bits(f, 32));
	vg_put_le64(foot + 144, XXH3_64bits(foot, 144));
	ck_assert_int_eq(vg_block_open_mem(f, size, "v2.vgb", &b, &d, &err), VG_EVERSION);
	ck_assert_int_eq(d.section, VG_BLOCK_SECTION_HEADER);
	ck_assert_ptr_nonnull(strstr(err.msg, "version 3"));
	free(f);
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

/* ---- the file-operations seam ---------------------------------------------- */

static long seam_write_budget = -1; /* bytes that may still be written; -1: any */
static int seam_fsync_fail_at = -1; /* the fdatasync call (from 0) that fails */
static int seam_fsync_calls;
static bool seam_rename_fails;

static ssize_t seam_write(int fd, const void *p, size_t n)
{
	if (seam_write_budget >= 0) {
		if (seam_write_budget == 0) {
			errno = ENOSPC;
			return -1;
		}
		if ((long)n > seam_write_budget)
			n = (size_t)seam_write_budget; /* a short write, then ENOSPC */
		seam_write_budget -= (long)n;
	}
	return write(fd, p, n);
}

static int seam_fdatasync(int fd)
{
	if (seam_fsync_calls++ == seam_fsync_fail_at) {
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static int seam_rename(const char *from, const char *to)
{
	if (seam_rename_fails) {
		errno = EXDEV;
		return -1;
	}
	return rename(from, to);
}

static const struct vg_fileops seam_ops = { seam_write, seam_fdatasync, seam_rename };

static void seam_reset(void)
{
	seam_write_budget = -1;
	seam_fsync_fail_at = -1;
	seam_fsync_calls = 0;
	seam_rename_fails = false;
}

START_TEST(test_block_failed_write_fsync_or_rename_leaves_old_files_intact)
{
	struct vg_block_write_stats st;
	struct tset old, t;
	struct vg_block *b;
	struct vg_err err;
	uint8_t *before, *after;
	size_t before_len, after_len, file_bytes;
	char old_path[8192], path[8192];
	int rc;

	make_tmpdir();
	path_in(old_path, sizeof(old_path), "old.vgb");
	path_in(path, sizeof(path), "new.vgb");
	tset_make(&old, 100, VG_BLOCK_RAW_COLUMNS, 300, 13);
	tset_make(&t, 400, VG_BLOCK_RAW_COLUMNS, 600, 14);
	write_block(old_path, &old, VG_TIER_RAW, 4096, NULL);
	before = read_file(old_path, &before_len);
	/* How big the new one is when all goes well (written, then removed). */
	write_block(path, &t, VG_TIER_RAW, 4096, &st);
	file_bytes = st.file_bytes;
	ck_assert_int_eq(unlink(path), 0);

	/* ENOSPC at many points: in the header, the columns, the index, the
	 * footer, the very last byte. */
	for (long budget = 0; budget < (long)file_bytes; budget += budget < 64 ? 7 : 997) {
		seam_reset();
		seam_write_budget = budget;
		rc = write_block_opts(path, &t, VG_TIER_RAW, 4096, &seam_ops, NULL, &err);
		ck_assert_int_eq(rc, VG_EIO);
		ck_assert_ptr_nonnull(strstr(err.msg, "No space left"));
		ck_assert_uint_eq(count_files(), 1); /* only old.vgb: no new, no .tmp */
	}
	seam_reset();
	seam_write_budget = (long)file_bytes - 1;
	ck_assert_int_eq(write_block_opts(path, &t, VG_TIER_RAW, 4096, &seam_ops, NULL, &err), VG_EIO);
	ck_assert_uint_eq(count_files(), 1);

	/* The file's fdatasync fails. */
	seam_reset();
	seam_fsync_fail_at = 0;
	ck_assert_int_eq(write_block_opts(path, &t, VG_TIER_RAW, 4096, &seam_ops, NULL, &err), VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "fdatasync"));
	ck_assert_uint_eq(count_files(), 1);

	/* The rename fails. */
	seam_reset();
	seam_rename_fails = true;
	ck_assert_int_eq(write_block_opts(path, &t, VG_TIER_RAW, 4096, &seam_ops, NULL, &err), VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "rename"));
	ck_assert_uint_eq(count_files(), 1);

	after = read_file(old_path, &after_len);
	ck_assert_uint_eq(after_len, before_len);
	ck_assert(memcmp(before, after, before_len) == 0);
	b = open_ok(old_path);
	check_roundtrip(b, &old);
	vg_block_close(b);

	/* The directory's fdatasync fails: the block is whole under its name,
	 * and the caller is told it may not survive a crash. */
	seam_reset();
	seam_fsync_fail_at = 1;
	rc = write_block_opts(path, &t, VG_TIER_RAW, 4096, &seam_ops, NULL, &err);
	ck_assert_int_eq(rc, VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "directory"));
	ck_assert_uint_eq(count_files(), 2);
	b = open_ok(path);
	check_roundtrip(b, &t);
	vg_block_close(b);

	/* The writer's fsync order: the file, then the directory. */
	seam_reset();
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(write_block_opts(path, &t, VG_TIER_RAW, 4096, &seam_ops, NULL, &err), 0);
	ck_assert_int_eq(seam_fsync_calls, 2);

	free(before);
	free(after);
	tset_free(&old);
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

START_TEST(test_block_abort_removes_the_temporary_file)
{
	struct vg_block_writer_options o = { VG_TIER_RAW, 0, 1000, 0, 0, NULL, 0 };
	struct vg_block_col cols[2] = { { (const uint8_t *)"ab", 2 }, { (const uint8_t *)"c", 1 } };
	struct vg_buf k = VG_BUF_INIT;
	struct vg_block_writer *w;
	char path[8192];

	make_tmpdir();
	path_in(path, sizeof(path), "aborted.vgb");
	ck_assert_int_eq(vg_block_writer_open(path, &o, &w, NULL), 0);
	key_of(&k, "up", NULL, NULL);
	ck_assert_int_eq(vg_block_writer_add(w, k.data, k.len, 1, 2, 2, cols, NULL), 0);
	ck_assert_uint_eq(count_files(), 1); /* the .tmp */
	vg_block_writer_abort(w);
	ck_assert_uint_eq(count_files(), 0);
	vg_buf_release(&k);
	remove_tmpdir();
}
END_TEST

/* ---- threads --------------------------------------------------------------- */

struct reader_arg {
	struct vg_block *b;
	const struct tset *t;
	int ok;
};

static void *reader(void *p)
{
	struct reader_arg *a = p;
	struct vg_block_cursor *c = vg_block_cursor_new();
	struct vg_block_col cols[VG_BLOCK_MAX_COLUMNS];
	struct vg_postings ids = VG_POSTINGS_INIT;
	struct vg_selector sel;
	const char *q = "{__name__=~\"node_.+\",mode!=\"idle\"}";

	a->ok = c != NULL && vg_promql_parse_selector(q, strlen(q), &sel, NULL, NULL) == 0;
	for (int round = 0; round < 3 && a->ok; round++) {
		if (vg_block_select(a->b, &sel, &ids, NULL) != 0 || ids.n == 0)
			a->ok = 0;
		for (size_t i = 0; i < ids.n && a->ok; i++) {
			const struct tseries *s = &a->t->s[ids.ids[i]];
			if (vg_block_read_columns(a->b, ids.ids[i], c, cols, NULL) != 0 ||
			    cols[0].len != s->col_len[0] ||
			    (cols[0].len && memcmp(cols[0].p, s->col[0], cols[0].len) != 0))
				a->ok = 0;
		}
	}
	if (c != NULL && a->ok)
		vg_selector_release(&sel);
	vg_postings_release(&ids);
	vg_block_cursor_free(c);
	return NULL;
}

START_TEST(test_block_concurrent_readers)
{
	struct reader_arg args[4];
	pthread_t th[4];
	struct tset t;
	struct vg_block *b;
	char path[8192];

	make_tmpdir();
	path_in(path, sizeof(path), "threads.vgb");
	tset_make(&t, 4000, VG_BLOCK_RAW_COLUMNS, 200, 15);
	write_block(path, &t, VG_TIER_RAW, 0, NULL);
	b = open_ok(path);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct reader_arg){ vg_block_ref(b), &t, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	}
	vg_block_close(b); /* the readers hold their own references */
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert(args[i].ok);
		vg_block_close(args[i].b);
	}
	tset_free(&t);
	remove_tmpdir();
}
END_TEST

/* ---- fs ------------------------------------------------------------------ */

START_TEST(test_fs_mkdir_p_creates_parents_and_refuses_files)
{
	char p[8192];
	struct vg_err err;
	struct stat sb;

	make_tmpdir();
	path_in(p, sizeof(p), "a/b//c/");
	ck_assert_int_eq(vg_fs_mkdir_p(p, NULL, &err), 0);
	ck_assert_int_eq(vg_fs_mkdir_p(p, NULL, &err), 0); /* exists: fine */
	path_in(p, sizeof(p), "a/b/c");
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	path_in(p, sizeof(p), "a/file");
	write_file(p, (const uint8_t *)"x", 1);
	ck_assert_int_eq(vg_fs_mkdir_p(p, NULL, &err), VG_EINVAL);
	path_in(p, sizeof(p), "a/file/sub");
	ck_assert_int_eq(vg_fs_mkdir_p(p, NULL, &err), VG_EIO);
	ck_assert_int_eq(vg_fs_mkdir_p("", NULL, &err), VG_EINVAL);
	path_in(p, sizeof(p), "a/file");
	unlink(p);
	path_in(p, sizeof(p), "a/b/c");
	rmdir(p);
	path_in(p, sizeof(p), "a/b");
	rmdir(p);
	path_in(p, sizeof(p), "a");
	rmdir(p);
	remove_tmpdir();
}
END_TEST

static Suite *block_suite(void)
{
	Suite *s = suite_create("block");
	TCase *tc = tcase_create("block");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_postings_set_operations_match_brute_force);
	tcase_add_test(tc, test_block_roundtrip_raw_many_series);
	tcase_add_test(tc, test_block_roundtrip_rollup_seven_columns_and_big_series);
	tcase_add_test(tc, test_block_roundtrip_one_series_and_empty_block);
	tcase_add_test(tc, test_block_index_sections_are_pinned);
	tcase_add_test(tc, test_block_roundtrip_100k_series);
	tcase_add_test(tc, test_block_cursor_serves_several_blocks);
	tcase_add_test(tc, test_block_select_matches_brute_force);
	tcase_add_test(tc, test_postings_select_over_another_index_matches_brute_force);
	tcase_add_test(tc, test_block_label_names_and_values);
	tcase_add_test(tc, test_series_key_order_is_prometheus_labels_compare);
	tcase_add_test(tc, test_block_writer_refuses_bad_input_and_stays_usable);
	tcase_add_test(tc, test_block_every_flipped_byte_is_caught_in_its_section);
	tcase_add_test(tc, test_block_every_truncation_is_refused);
	tcase_add_test(tc, test_block_newer_version_refused);
	tcase_add_test(tc, test_block_failed_write_fsync_or_rename_leaves_old_files_intact);
	tcase_add_test(tc, test_block_abort_removes_the_temporary_file);
	tcase_add_test(tc, test_block_concurrent_readers);
	tcase_add_test(tc, test_fs_mkdir_p_creates_parents_and_refuses_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(block_suite());
	int nf;

	vg_log_init("test_block", VG_LOG_WARN);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
