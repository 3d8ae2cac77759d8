/*
 * test_footprint.c: common/footprint.c drops the resident pages of the
 * loaded objects' read-only segments that hold only their file's content,
 * and keeps every other mapping: one with a private copy (a relocated
 * read-only segment), whose content must survive, a writable one, and any
 * file mapped by the process itself (the receiver's block files).
 */
#include "common/footprint.h"
#include "common/err.h"

#include <check.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/banned.h"

#define FILE_BYTES (256 * 1024)

/* A file of FILE_BYTES under /tmp, its pages each starting with their
 * number; unlinked at once (the descriptor keeps it). */
static int temp_file(void)
{
	char path[] = "/tmp/vigil-footprint-XXXXXX";
	char page[4096];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	for (int i = 0; i < FILE_BYTES / (int)sizeof(page); i++) {
		memset(page, 'x', sizeof(page));
		snprintf(page, sizeof(page), "page %d", i);
		ck_assert_int_eq(write(fd, page, sizeof(page)), (ssize_t)sizeof(page));
	}
	return fd;
}

/* The Rss and Anonymous KiB of the mapping that holds p. */
static void mapping_kib(const void *p, long *rss, long *anon)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[4200];
	int is_it = 0;

	ck_assert_ptr_nonnull(f);
	*rss = *anon = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *end;
		unsigned long start = strtoul(line, &end, 16);
		if (end != line && *end == '-') {
			unsigned long stop = strtoul(end + 1, NULL, 16);
			is_it = start <= (unsigned long)p && (unsigned long)p < stop;
		} else if (is_it && strncmp(line, "Rss:", 4) == 0) {
			*rss = strtol(line + 4, NULL, 10);
		} else if (is_it && strncmp(line, "Anonymous:", 10) == 0) {
			*anon = strtol(line + 10, NULL, 10);
		}
	}
	fclose(f);
	ck_assert_msg(*rss >= 0 && *anon >= 0, "mapping %p not in /proc/self/smaps", p);
}

/* A private mapping of a new temp_file() with prot, every page resident;
 * *fd is the file's descriptor. */
static char *map_touched(int prot, int *fd)
{
	char *p;
	volatile char sum = 0;

	*fd = temp_file();
	p = mmap(NULL, FILE_BYTES, prot, MAP_PRIVATE, *fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	for (size_t i = 0; i < FILE_BYTES; i += 4096)
		sum += p[i];
	(void)sum;
	return p;
}

/* Read-only data of this program's file, in its read-only segment. */
#define BIG_BYTES (1024 * 1024)
static const char big[BIG_BYTES] = { 'b', 'i', 'g' };

START_TEST(test_program_rodata_dropped)
{
	volatile const char *b = big;
	struct vg_err err = { 0 };
	size_t kib = 0;
	long rss, anon;
	unsigned sum = 0;
	bool is_in = false;

	for (size_t i = 0; i < BIG_BYTES; i += 4096)
		sum += (unsigned char)b[i];
	ck_assert_uint_eq(sum, 'b');
	mapping_kib(big, &rss, &anon);
	ck_assert_int_ge(rss, BIG_BYTES / 1024);
	ck_assert_int_eq(anon, 0);
	ck_assert_int_eq(vg_footprint_in_loaded_segment(big, BIG_BYTES, &is_in), 0);
	ck_assert(is_in);
	ck_assert_int_eq(vg_footprint_drop_file_pages(&kib, &err), 0);
	/* The mapping was taken and dropped: its resident KiB are counted.
	 * Its Rss afterwards is not a measure: each access after the drop
	 * (this file's strings lie in the same segment, and the drop reads
	 * some while it goes on) maps back as much of the page cache's folio
	 * around it as the kernel holds, up to the whole segment. */
	ck_assert_uint_ge(kib, BIG_BYTES / 1024);
	/* mapped again from the file by the next access */
	ck_assert_int_eq(b[2], 'g');
}
END_TEST

/* A file the process maps itself, read-only and clean, is not one of the
 * loaded objects: kept, whoever else might unmap it meanwhile. */
START_TEST(test_own_file_mapping_kept)
{
	int fd;
	const char *p = map_touched(PROT_READ, &fd);
	struct vg_err err = { 0 };
	size_t kib = 0;
	long rss, anon;
	bool is_in = true;

	mapping_kib(p, &rss, &anon);
	ck_assert_int_eq(rss, FILE_BYTES / 1024);
	ck_assert_int_eq(anon, 0);
	ck_assert_int_eq(vg_footprint_in_loaded_segment(p, FILE_BYTES, &is_in), 0);
	ck_assert(!is_in);
	ck_assert_int_eq(vg_footprint_drop_file_pages(&kib, &err), 0);
	mapping_kib(p, &rss, &anon);
	ck_assert_int_eq(rss, FILE_BYTES / 1024);
	ck_assert_str_eq(p + 5 * 4096, "page 5");
	munmap((void *)p, FILE_BYTES);
	close(fd);
}
END_TEST

/* A private copy in a read-only mapping (what the loader leaves of a
 * relocated segment after mprotect) is kept, and so is its content; a
 * writable mapping of a file is never dropped, copied or not. */
START_TEST(test_copied_or_writable_mappings_kept)
{
	int fd, wfd;
	char *p = map_touched(PROT_READ | PROT_WRITE, &fd);
	char *w = map_touched(PROT_READ | PROT_WRITE, &wfd);
	struct vg_err err = { 0 };
	size_t kib = 0;
	long rss, anon, rss_before;

	snprintf(p + 4096, 4096, "relocated");
	ck_assert_int_eq(mprotect(p, FILE_BYTES, PROT_READ), 0);
	mapping_kib(p, &rss_before, &anon);
	ck_assert_int_eq(anon, 4);
	ck_assert_int_eq(vg_footprint_drop_file_pages(&kib, &err), 0);
	mapping_kib(p, &rss, &anon);
	ck_assert_int_eq(rss, rss_before);
	ck_assert_int_eq(anon, 4);
	ck_assert_str_eq(p + 4096, "relocated");
	mapping_kib(w, &rss, &anon);
	ck_assert_int_eq(rss, FILE_BYTES / 1024);
	munmap(w, FILE_BYTES);
	munmap(p, FILE_BYTES);
	close(wfd);
	close(fd);
}
END_TEST

/* The process's own relocated data and its libraries' code work after. */
static const char *const names[] = { "cpu", "meminfo", "netstat" };
static int (*const compare)(const char *, const char *) = strcmp;

START_TEST(test_process_runs_on)
{
	struct vg_err err = { 0 };
	size_t kib = 0;
	char buf[64];

	ck_assert_int_eq(vg_footprint_drop_file_pages(&kib, &err), 0);
	ck_assert_int_eq(vg_footprint_drop_file_pages(&kib, &err), 0);
	ck_assert_int_eq(compare(names[2], "netstat"), 0);
	snprintf(buf, sizeof(buf), "%s %g", names[0], 2.5);
	ck_assert_str_eq(buf, "cpu 2.5");
}
END_TEST

static Suite *footprint_suite(void)
{
	Suite *s = suite_create("footprint");
	TCase *tc = tcase_create("drop");

	tcase_add_test(tc, test_program_rodata_dropped);
	tcase_add_test(tc, test_own_file_mapping_kept);
	tcase_add_test(tc, test_copied_or_writable_mappings_kept);
	tcase_add_test(tc, test_process_runs_on);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(footprint_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
