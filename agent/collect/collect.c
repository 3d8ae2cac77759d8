/*
 * collect.c: the table of host collectors, and what they share: reading a
 * /proc file whole, cutting it into lines and fields, strict number parsing,
 * handing a sample to the sink.
 *
 * It parses no source itself: each collect/<collector>.c owns its format.
 * Invariants: vg_collectors[] is NULL-terminated, in the order cpu, meminfo,
 * filesystem, loadavg, filefd, entropy, textfile; the helpers allocate only when a file outgrows the
 * stack part of struct vg_collect_file (once per read, capped at
 * VG_COLLECT_MAX_FILE_BYTES), never per line or per sample.
 */
#include "agent/collect/collect.h"
#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/banned.h"

const struct vg_collector *const vg_collectors[] = {
	&vg_collector_cpu,
	&vg_collector_meminfo,
	&vg_collector_filesystem,
	&vg_collector_loadavg,
	&vg_collector_filefd,
	&vg_collector_entropy,
	&vg_collector_textfile,
	NULL,
};

const struct vg_collector *vg_collector_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; vg_collectors[i] != NULL; i++)
		if (strcmp(vg_collectors[i]->name, name) == 0)
			return vg_collectors[i];
	return NULL;
}

void vg_collect_env_default(struct vg_collect_env *env)
{
	long tck = sysconf(_SC_CLK_TCK);

	env->proc_path = "/proc";
	env->rootfs_path = "/";
	env->textfile_dir = NULL;
	/* USER_HZ is 100 on every Linux architecture; sysconf cannot really
	 * fail, but a zero here would divide every CPU sample by zero. */
	env->clk_tck = tck > 0 ? tck : 100;
}

int vg_collect_path(char *out, size_t size, const char *dir, const char *name,
		    struct vg_err *err)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size)
		return vg_err_set(err, VG_ELIMIT, "path %s/%s is longer than %zu bytes", dir, name,
				  size - 1);
	return 0;
}

void vg_collect_file_release(struct vg_collect_file *f)
{
	vg_buf_release(&f->heap);
	f->data = f->stack;
	f->len = 0;
	f->stack[0] = '\0';
}

/*
 * Reads to EOF rather than trusting one read(): seq_file hands out a large
 * file in page-sized pieces. The first VG_COLLECT_STACK_BYTES - 1 bytes go to
 * the stack buffer; when it fills, the contents move to f->heap, which
 * doubles until EOF or the limit.
 */
int vg_collect_file_read(struct vg_collect_file *f, const char *path, struct vg_err *err)
{
	char *dst = f->stack;
	size_t len = 0, cap = sizeof(f->stack) - 1;
	int fd, rc;

	vg_buf_init(&f->heap);
	f->data = f->stack;
	f->len = 0;
	f->stack[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vg_err_set(err, errno == ENOENT ? VG_ENOENT : VG_EIO, "open %s: %s", path,
				  strerror(errno));
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (dst == f->stack)
				vg_buf_append(&f->heap, f->stack, len);
			f->heap.len = len;
			if (vg_buf_grow(&f->heap, len) != 0) {
				rc = vg_err_set(err, VG_ENOMEM, "read %s: out of memory at %zu bytes",
						path, len);
				goto fail;
			}
			dst = (char *)f->heap.data;
			cap = f->heap.cap - 1;
		}
		n = read(fd, dst + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = vg_err_set(err, VG_EIO, "read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > VG_COLLECT_MAX_FILE_BYTES) {
			rc = vg_err_set(err, VG_ELIMIT, "%s: larger than %d bytes", path,
					VG_COLLECT_MAX_FILE_BYTES);
			goto fail;
		}
	}
	close(fd);
	dst[len] = '\0';
	if (dst != f->stack)
		f->heap.len = len;
	f->data = dst;
	f->len = len;
	return 0;
fail:
	close(fd);
	vg_collect_file_release(f);
	return rc;
}

bool vg_collect_next_line(struct vg_str *rest, struct vg_str *line)
{
	const char *nl;
	uint32_t n;

	if (rest->len == 0)
		return false;
	nl = memchr(rest->p, '\n', rest->len);
	n = nl ? (uint32_t)(nl - rest->p) : rest->len;
	line->p = rest->p;
	line->len = n;
	if (nl)
		n++;
	rest->p += n;
	rest->len -= n;
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

bool vg_collect_next_field(struct vg_str *rest, struct vg_str *field)
{
	uint32_t i = 0, start;

	while (i < rest->len && is_blank(rest->p[i]))
		i++;
	if (i == rest->len) {
		rest->p += i;
		rest->len = 0;
		return false;
	}
	start = i;
	while (i < rest->len && !is_blank(rest->p[i]))
		i++;
	field->p = rest->p + start;
	field->len = i - start;
	rest->p += i;
	rest->len -= i;
	return true;
}

bool vg_collect_parse_u64(struct vg_str s, uint64_t *out)
{
	uint64_t v = 0;

	if (s.len == 0)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';
		if (d > 9)
			return false;
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

int vg_collect_emit(struct vg_sample_sink *sink, struct vg_series *s, double value,
		    struct vg_err *err)
{
	int rc = sink->add(sink->arg, s, value);

	if (rc != 0)
		vg_err_set(err, rc, "sink stopped the collector at %.*s (code %d)",
			   (int)(s->name.len > 128 ? 128 : s->name.len), s->name.p, rc);
	return rc;
}
