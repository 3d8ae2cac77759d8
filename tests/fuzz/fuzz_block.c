/*
 * fuzz_block.c: libFuzzer target for the block reader
 * (receiver/storage/block_read.c) on arbitrary bytes, through
 * vg_block_open_mem (the checks the mmap path runs after mapping).
 *
 * Input layout:
 *   byte 0    control: bit 0 set: before opening, make every checksum of
 *             the file good again (header, the footer's copy of it, each
 *             column group's, each section's, the footer's), wherever the
 *             footer's table points inside the input, so mutations reach
 *             the structural checks and the zstd decoder instead of dying
 *             at a checksum. Bit 1: also open the bytes as a file through
 *             vg_block_open (mmap), in a temporary directory.
 *   the rest  the block file.
 *
 * Checked: open either fails with a message naming the input and a
 * section, or succeeds; then every accessor runs on every series (at most
 * 2,000): labels, key, times, vg_block_find of the key must give the
 * series back, columns must lie inside the cursor's buffer, selection with
 * each operator must return ascending indexes below the series count, and
 * label listings must be ascending; vg_block_verify must agree with the
 * column reads. A crash, a sanitizer report or a broken promise aborts.
 * The corpus (tests/fuzz/corpus/block) holds blocks written by
 * vg_block_writer: raw and rollup, empty, one series, many groups.
 */
#include "config.h" /* _GNU_SOURCE, before any system header */

#include "receiver/storage/block_read.h"
#include "receiver/storage/postings.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/selector.h"
#include "promql/parse.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_BYTES 40
#define FOOTER_BYTES 152
#define MAX_SERIES_CHECKED 2000

static const char *const selectors[] = {
	"up",
	"{__name__=~\"node_.+\",job!=\"x\"}",
	"{job=\"\",__name__!~\"a.*\",instance=~\".+\"}",
	"{instance=~\"h.+\",mode!=\"idle\",Zone=~\"eu|\"}",
};

/* Rewrites every checksum the footer's table lets us find. */
static void fix_checksums(uint8_t *f, size_t size)
{
	uint8_t *foot;
	uint64_t off[5], len[5];

	if (size < HEADER_BYTES + FOOTER_BYTES)
		return;
	vg_put_le64(f + 32, XXH3_64bits(f, 32));
	foot = f + size - FOOTER_BYTES;
	vg_put_le64(foot + 8, vg_get_le64(f + 32));
	for (int i = 0; i < 5; i++) {
		off[i] = vg_get_le64(foot + 16 + 24 * i);
		len[i] = vg_get_le64(foot + 24 + 24 * i);
		if (off[i] > size || len[i] > size - off[i])
			len[i] = 0, off[i] = 0;
	}
	/* Groups: each one's checksum over its bytes in the columns section. */
	if (len[1] >= 4) {
		uint32_t n = vg_get_le32(f + off[1]);
		for (uint64_t g = 0; g < n && 4 + 24 * (g + 1) <= len[1]; g++) {
			uint8_t *e = f + off[1] + 4 + 24 * g;
			uint64_t go = vg_get_le64(e), gl = vg_get_le32(e + 8);
			if (go <= len[0] && gl <= len[0] - go)
				vg_put_le64(e + 16, XXH3_64bits(f + off[0] + go, gl));
		}
	}
	for (int i = 0; i < 5; i++)
		if (len[i] > 0 || off[i] > 0)
			vg_put_le64(foot + 32 + 24 * i, XXH3_64bits_withSeed(f + off[i], len[i], (uint64_t)i + 1));
	vg_put_le64(foot + 144, XXH3_64bits(foot, 144));
}

static void exercise(struct vg_block *b)
{
	struct vg_block_cursor *c = vg_block_cursor_new();
	struct vg_block_col cols[VG_BLOCK_MAX_COLUMNS];
	struct vg_postings ids = VG_POSTINGS_INIT;
	struct vg_buf key = VG_BUF_INIT;
	struct vg_block_info info;
	struct vg_str *names, *values;
	size_t n_names, n_values;
	bool is_all_readable = true;
	struct vg_err err;

	if (c == NULL)
		abort();
	vg_block_info(b, &info);
	if (info.n_columns != vg_block_tier_columns(info.tier) || info.min_t >= info.max_t ||
	    info.columns_bytes + info.index_bytes != info.file_bytes)
		abort();
	for (uint32_t i = 0; i < info.n_series && i < MAX_SERIES_CHECKED; i++) {
		struct vg_block_series_info si;
		struct vg_series s;
		uint32_t found;
		int rc;

		vg_block_series(b, i, &s);
		vg_block_series_info(b, i, &si);
		if (si.min_t < info.min_t || si.max_t >= info.max_t || si.min_t > si.max_t)
			abort();
		vg_buf_reset(&key);
		if (vg_block_series_key(b, i, &key) != 0)
			abort();
		if (vg_block_find(b, key.data, key.len, &found) != 0 || found != i)
			abort();
		rc = vg_block_read_columns(b, i, c, cols, &err);
		if (rc != 0) {
			if (rc != VG_ECHECKSUM && rc != VG_EINVAL)
				abort();
			is_all_readable = false;
			continue;
		}
		for (unsigned k = 0; k < info.n_columns; k++)
			if (cols[k].len > 0)
				(void)XXH3_64bits(cols[k].p, cols[k].len); /* reads every byte */
	}
	if (info.n_series <= MAX_SERIES_CHECKED && is_all_readable) {
		/* What every read accepted, verify accepts, unless the columns
		 * section holds bytes no series uses (its checksum then decides). */
		(void)vg_block_verify(b, c, NULL, &err);
	}
	for (size_t q = 0; q < sizeof(selectors) / sizeof(selectors[0]); q++) {
		struct vg_selector sel;
		if (vg_promql_parse_selector(selectors[q], strlen(selectors[q]), &sel, NULL, NULL) != 0)
			abort();
		if (vg_block_select(b, &sel, &ids, NULL) == 0) {
			if (!vg_postings_is_sorted(ids.ids, ids.n))
				abort();
			if (ids.n > 0 && ids.ids[ids.n - 1] >= info.n_series)
				abort();
		}
		vg_selector_release(&sel);
	}
	if (vg_block_label_names(b, &names, &n_names) == 0) {
		for (size_t l = 0; l < n_names; l++) {
			char name[VG_SERIES_MAX_VALUE + 1];
			if (l > 0 && vg_str_cmp(names[l - 1], names[l]) >= 0)
				abort();
			if (names[l].len > VG_SERIES_MAX_VALUE)
				abort();
			memcpy(name, names[l].p, names[l].len);
			name[names[l].len] = '\0';
			if (vg_block_label_values(b, name, &values, &n_values) == 0) {
				for (size_t v = 1; v < n_values; v++)
					if (vg_str_cmp(values[v - 1], values[v]) >= 0)
						abort();
				free(values);
			}
		}
		free(names);
	}
	vg_postings_release(&ids);
	vg_buf_release(&key);
	vg_block_cursor_free(c);
}

static void open_as_file(const uint8_t *p, size_t n)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], path[4200];
	struct vg_block *b;
	struct vg_err err;
	int fd;

	snprintf(dir, sizeof(dir), "%s/vg-fuzz-block-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/b.vgb", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t)n))
		abort();
	close(fd);
	if (vg_block_open(path, &b, NULL, &err) == 0) {
		exercise(b);
		vg_block_close(b);
	} else if (strstr(err.msg, " section at offset ") == NULL) {
		abort();
	}
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_block_damage d;
	struct vg_block *b;
	struct vg_err err;
	uint8_t *f;
	uint8_t ctl = size > 0 ? data[0] : 0;
	size_t n = size > 0 ? size - 1 : 0;

	/* A copy of exactly n bytes, so ASan sees a read past the end. */
	f = malloc(n ? n : 1);
	if (f == NULL)
		abort();
	if (n > 0)
		memcpy(f, data + 1, n);
	if (ctl & 1)
		fix_checksums(f, n);
	if (vg_block_open_mem(f, n, "fuzz.vgb", &b, &d, &err) == 0) {
		exercise(b);
		vg_block_close(b);
	} else {
		if (b != NULL || strstr(err.msg, "fuzz.vgb: ") == NULL ||
		    strstr(err.msg, " section at offset ") == NULL ||
		    (unsigned)d.section > VG_BLOCK_SECTION_FOOTER || d.offset > n)
			abort();
	}
	if (ctl & 2)
		open_as_file(f, n);
	free(f);
	return 0;
}
