/* footprint.c: dropping the page mappings start-up left (footprint.h). */
/* dl_iterate_phdr (link.h) is a GNU extension. */
#define _GNU_SOURCE
#include "common/footprint.h"
#include "common/err.h"

#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/banned.h"

/* The read-only segments of the loaded objects, page-aligned. More than
 * MAX_SEGMENTS (some 40 objects of 3 each in the receiver) are left out:
 * their pages are only not dropped. */
#define MAX_SEGMENTS 512

struct segments {
	struct {
		unsigned long start, end;
	} s[MAX_SEGMENTS];
	size_t n;
	unsigned long page;
};

static int add_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct segments *segs = arg;

	(void)size;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum && segs->n < MAX_SEGMENTS; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		unsigned long start, end;

		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) || ph->p_memsz == 0)
			continue;
		start = (unsigned long)(info->dlpi_addr + ph->p_vaddr);
		end = start + (unsigned long)ph->p_memsz;
		segs->s[segs->n].start = start & ~(segs->page - 1);
		segs->s[segs->n].end = (end + segs->page - 1) & ~(segs->page - 1);
		segs->n++;
	}
	return 0;
}

static bool in_segment(const struct segments *segs, unsigned long start, unsigned long end)
{
	for (size_t i = 0; i < segs->n; i++)
		if (start >= segs->s[i].start && end <= segs->s[i].end)
			return true;
	return false;
}

/* The loaded objects' read-only segments, or NULL when out of memory. */
static struct segments *segments_load(void)
{
	struct segments *segs = malloc(sizeof(*segs));

	if (segs == NULL)
		return NULL;
	segs->n = 0;
	segs->page = (unsigned long)sysconf(_SC_PAGESIZE);
	dl_iterate_phdr(add_segments, segs);
	return segs;
}

int vg_footprint_in_loaded_segment(const void *p, size_t len, bool *is_in)
{
	struct segments *segs = segments_load();

	if (segs == NULL)
		return VG_ENOMEM;
	*is_in = in_segment(segs, (unsigned long)p, (unsigned long)p + len);
	free(segs);
	return 0;
}

/* One mapping of /proc/self/smaps while its fields are read. */
struct mapping {
	unsigned long start, end;
	bool is_candidate; /* read-only and backed by a file */
	size_t rss_kib;
};

/* A mapping's first line: "start-end perms offset dev inode [path]".
 * Returns false for a field line ("Name:   value kB"). */
static bool parse_header(const char *line, struct mapping *m)
{
	char *end;
	const char *perms, *path;
	unsigned long start, stop;
	int fields = 0;

	start = strtoul(line, &end, 16);
	if (end == line || *end != '-')
		return false;
	stop = strtoul(end + 1, &end, 16);
	if (*end != ' ' || stop <= start)
		return false;
	m->start = start;
	m->end = stop;
	perms = end + 1;
	/* The path, when there is one, follows perms, offset, dev, inode. */
	for (path = perms; *path != '\0' && fields < 4; fields++) {
		path += strcspn(path, " ");
		path += strspn(path, " ");
	}
	m->is_candidate = strlen(perms) >= 4 && perms[0] == 'r' && perms[1] == '-' && *path == '/';
	m->rss_kib = 0;
	return true;
}

/* "Name:   123 kB": the number, when the line is that field. */
static bool field_kib(const char *line, const char *name, size_t *kib)
{
	size_t n = strlen(name);
	char *end;
	unsigned long long v;

	if (strncmp(line, name, n) != 0 || line[n] != ':')
		return false;
	errno = 0;
	v = strtoull(line + n + 1, &end, 10);
	if (end == line + n + 1 || errno != 0)
		return false;
	*kib = (size_t)v;
	return true;
}

int vg_footprint_drop_file_pages(size_t *dropped_kib, struct vg_err *err)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	/* Lines are short (a path at most PATH_MAX): a longer one is a path
	 * cut in two, whose second part is neither a header nor a field. */
	char line[4096 + 128];
	struct mapping m = { 0 };
	struct segments *segs;
	size_t kib;

	*dropped_kib = 0;
	if (f == NULL)
		return vg_err_set(err, VG_EIO, "/proc/self/smaps: %s", strerror(errno));
	if ((segs = segments_load()) == NULL) {
		fclose(f);
		return vg_err_set(err, VG_ENOMEM, "footprint: out of memory");
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (parse_header(line, &m)) {
			m.is_candidate = m.is_candidate && in_segment(segs, m.start, m.end);
			continue;
		}
		if (!m.is_candidate)
			continue;
		if (field_kib(line, "Rss", &kib)) {
			m.rss_kib = kib;
		} else if (field_kib(line, "Anonymous", &kib)) {
			/* Anonymous comes after Rss; a mapping with no
			 * private copy and resident pages is dropped. */
			if (kib == 0 && m.rss_kib > 0 &&
			    madvise((void *)m.start, m.end - m.start, MADV_DONTNEED) == 0)
				*dropped_kib += m.rss_kib;
			m.is_candidate = false;
		}
	}
	fclose(f);
	free(segs);
	return 0;
}
