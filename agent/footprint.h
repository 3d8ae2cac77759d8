/*
 * footprint.h: giving back, once start-up is over, the resident pages only
 * start-up needed.
 *
 * A process's RSS counts every page of a library or program file that is
 * mapped into it, and the kernel maps a file's cached pages 64 KiB at a
 * time around each page faulted. Start-up (the loader, option and
 * configuration parsing, the first connection and its series dictionary)
 * touches most of libc's text once, so the agent kept 1.2-1.4 MiB of libc
 * mapped for its life where its rounds use less (docs/performance.md,
 * "Agent footprint").
 *
 * The invariant: only mappings whose every page is still the file's own
 * content are dropped (read-only, backed by a file, no private copy:
 * "Anonymous: 0 kB" in /proc/self/smaps). A relocated read-only segment
 * (RELRO, the GOT) holds private copies and is kept; dropping it would
 * lose the relocations. A dropped page is mapped again from the page
 * cache by the next access, so nothing the process can observe changes.
 *
 * Threads: call it where no other thread maps, unmaps or changes the
 * protection of memory (the agent's statvfs worker only calls statvfs).
 */
#ifndef VG_AGENT_FOOTPRINT_H
#define VG_AGENT_FOOTPRINT_H

#include <stddef.h>

struct vg_err;

/* Drops the page-table entries of every such mapping (madvise
 * MADV_DONTNEED) and sets *dropped_kib to the resident KiB they held.
 * 0, or VG_EIO with err set when /proc/self/smaps cannot be read (nothing
 * dropped then). */
int vg_footprint_drop_file_pages(size_t *dropped_kib, struct vg_err *err);

#endif
