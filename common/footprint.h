/*
 * footprint.h: giving back, once start-up is over, the resident pages of
 * the program's and its libraries' files that only start-up needed.
 *
 * A process's RSS counts every page of a library or program file that is
 * mapped into it, and the kernel maps a file's cached pages 64 KiB at a
 * time around each page faulted. Start-up (the loader, option and
 * configuration parsing, the first connection and its series dictionary,
 * a WAL replay) touches most of libc's text once, and of OpenSSL's,
 * libcurl's and the C++ runtime's, where a process's steady state uses
 * far less (docs/performance.md, "Agent footprint", "What the receiver's
 * RSS is made of").
 *
 * The invariant: only mappings that lie inside a read-only segment
 * (PT_LOAD without PF_W) of an object the dynamic loader has loaded, and
 * whose every page is still the file's own content (backed by a file,
 * "Anonymous: 0 kB" in /proc/self/smaps), are dropped. A relocated
 * segment (RELRO, the GOT) is part of a writable segment and holds
 * private copies: it is kept. Any other mapping of a file (a block file
 * the receiver reads, a file another thread is about to unmap) is never
 * touched, so a concurrent munmap and mmap elsewhere in the process cannot
 * make this drop anonymous memory that took its place. A dropped page is
 * mapped again from the page cache by the next access, so nothing the
 * process can observe changes.
 *
 * Threads: any thread may call it while others run, as long as no thread
 * unloads a shared object meanwhile (dlclose).
 */
#ifndef VG_COMMON_FOOTPRINT_H
#define VG_COMMON_FOOTPRINT_H

#include <stdbool.h>
#include <stddef.h>

struct vg_err;

/* Drops the page-table entries of every such mapping (madvise
 * MADV_DONTNEED) and sets *dropped_kib to the resident KiB they held.
 * 0, or VG_EIO with err set when /proc/self/smaps cannot be read, VG_ENOMEM
 * when out of memory (nothing dropped then). */
int vg_footprint_drop_file_pages(size_t *dropped_kib, struct vg_err *err);

/* Whether p[0..len) lies in one read-only segment of a loaded object: the
 * first half of the test above (the other is smaps' "Anonymous: 0 kB").
 * 0, or VG_ENOMEM. */
int vg_footprint_in_loaded_segment(const void *p, size_t len, bool *is_in);

#endif
