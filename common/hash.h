/*
 * hash.h: xxHash (XXH3), compiled into the file that includes this header
 * instead of called in libxxhash.
 *
 * The agent's files and common/ include xxHash through here, so the agent
 * maps no libxxhash (some 80 KiB of resident memory on every host,
 * docs/performance.md, "Agent footprint"); the receiver's own files may
 * still call the library: the inlined functions have names of their own
 * (XXH_INLINE_ALL renames them), and both compute the same hashes.
 */
#ifndef VG_HASH_H
#define VG_HASH_H

#define XXH_INLINE_ALL
#include <xxhash.h>

#endif
