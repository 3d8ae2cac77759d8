/*
 * fuzz_tombstone.c: libFuzzer target for the tombstones file reader
 * (receiver/storage/tombstone.c, vg_tombstones_decode) on arbitrary bytes.
 *
 * Input layout:
 *   byte 0    control: bit 0 set: before decoding, make the trailing
 *             checksum good again, so mutations reach the structural
 *             checks and the selector parser instead of dying at it.
 *   the rest  the file.
 *
 * Checked: decoding either fails with a message or succeeds; when it
 * succeeds, every tombstone's range is ordered and its selector non-empty
 * and inside the input, and the same bytes loaded as a data directory's
 * file through vg_tombstones_open give a list of the same length, which
 * vg_tombstones_match and vg_tombstones_cut then run against. A crash, a
 * sanitizer report or a broken promise aborts. The corpus
 * (tests/fuzz/corpus/tombstone) holds files the writer made.
 */
#include "config.h"

#include "receiver/storage/tombstone.h"
#include "receiver/storage/head.h"
#include "common/err.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	const uint8_t *p;
	size_t len, n;
};

static int check_one(void *arg, struct vg_str selector, int64_t min_t, int64_t max_t)
{
	struct seen *s = arg;

	if (min_t > max_t || selector.len == 0 || (const uint8_t *)selector.p < s->p ||
	    (const uint8_t *)selector.p + selector.len > s->p + s->len)
		abort();
	s->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0 };
	struct vg_err err;
	uint8_t *p;
	size_t len;

	if (size < 1)
		return 0;
	len = size - 1;
	if ((p = malloc(len + 1)) == NULL)
		return 0;
	memcpy(p, data + 1, len);
	if ((data[0] & 1) && len >= 8) {
		uint64_t h = XXH3_64bits(p, len - 8);
		for (int i = 0; i < 8; i++)
			p[len - 8 + (size_t)i] = (uint8_t)(h >> (8 * i));
	}
	s.p = p;
	s.len = len;
	if (vg_tombstones_decode(p, len, check_one, &s, &err) == 0) {
		char dir[] = "/tmp/vg-fuzz-tomb-XXXXXX", path[64];
		struct vg_tombstones *t = NULL;
		int fd;

		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof(path), "%s/tombstones", dir);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, p, len) != (ssize_t)len)
			abort();
		close(fd);
		if (vg_tombstones_open(dir, &t, &err) != 0 || vg_tombstones_len(t) != s.n)
			abort();
		{
			static const uint8_t key[] = "up\xffjob\xffnode\xff";
			int64_t ts[3] = { -1, 0, 1700000000000LL };
			double v[3] = { 1, 2, 3 };
			struct vg_samples smp = { ts, v, 3, 3 };
			struct vg_interval *iv = NULL;
			size_t n = 0, cap = 0;

			if (vg_tombstones_match(t, key, sizeof(key) - 1, &iv, &n, &cap) == 0)
				vg_tombstones_cut(iv, n, &smp);
			if (smp.n > 3)
				abort();
			free(iv);
		}
		vg_tombstones_free(t);
		unlink(path);
		rmdir(dir);
	}
	free(p);
	return 0;
}
