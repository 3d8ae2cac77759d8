/*
 * slab.c: size classes in 64 KiB slabs (slab.h), for the head's chunk bytes.
 *
 * Layout: memory is mapped 2 MiB at a time, aligned to 2 MiB (a mapping).
 * Its first 64 KiB hold the records of its 31 slabs (one page of them is
 * touched; the rest of that first slab is never used), so a record stays
 * when its slab's pages are given back, and the record of the slab holding
 * p is found from p's address: the mapping is p rounded down to 2 MiB, the
 * slab its 64 KiB index in it. A slab serves one class at a time: slots
 * from its start, handed out in address order (bumped) until the first is
 * given back, then from its free list (each free slot holds the next), so
 * the pages past the last slot handed out are never touched. A class keeps
 * its slabs with a free slot on a list, the one last freed into first.
 *
 * Memory: a slot is its class's size (the asked size rounded to 8, 16 or
 * 32 bytes); a slab's tail past its last whole slot is unused (under 2 % up
 * to 1 KiB slots, under 6 % up to 4 KiB). A slab whose last slot is freed
 * leaves its class: up to KEEP_EMPTY of them stay as they are for the next
 * class that needs a slab, the others are given back (madvise
 * MADV_DONTNEED; their pages are zero when touched again) and taken first
 * after the kept ones. Mappings are unmapped only by vg_slab_free_all.
 *
 * Locking: mu guards everything; no other lock is taken under it.
 */
#include "config.h"

#include "receiver/storage/slab.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/banned.h"

#define SLAB_SHIFT 16
#define SLAB_BYTES ((size_t)1 << SLAB_SHIFT)
#define MAP_SHIFT 21
#define MAP_BYTES ((size_t)1 << MAP_SHIFT)
#define SLABS_PER_MAP (MAP_BYTES / SLAB_BYTES) /* slab 0 holds the records */
#define N_CLASSES 256
#define NO_CLASS UINT16_MAX
/* Empty slabs kept resident for the next class that needs one: a class
 * that empties and fills again (a head of a few series) costs no madvise
 * and no page faults each time. */
#define KEEP_EMPTY 4

struct slab {
	void *free;                /* free slots, each holding the next */
	struct slab *prev, *next;  /* its class's list, or the empty pool's */
	uint32_t touched;          /* bytes from its start that may be resident, page-rounded */
	uint16_t cls;              /* NO_CLASS while empty */
	uint16_t live, bumped;     /* slots held; slots ever handed out since it joined its class */
};

struct map {
	struct map *next;
	uint32_t n_slabs;          /* slabs handed out so far, from 1 */
	struct slab slabs[SLABS_PER_MAP];
};

_Static_assert(sizeof(struct map) <= 4096, "a mapping's records fit one page");
_Static_assert(VG_SLAB_MAX <= SLAB_BYTES / 16, "a slab holds at least 16 slots");

struct cls {
	struct slab *partial;      /* slabs with a free slot */
	uint32_t size;             /* slot bytes */
	uint16_t per_slab;
};

struct vg_slab {
	pthread_mutex_t mu;
	struct cls cls[N_CLASSES];
	struct slab *kept;         /* empty, pages as they were */
	struct slab *returned;     /* empty, pages given back */
	uint32_t n_kept;
	struct map *maps;          /* newest first; slabs are handed out from it */
	size_t page;
	struct vg_slab_mem mem;
};

/* The class of n (1..VG_SLAB_MAX). */
static unsigned class_of(size_t n)
{
	if (n <= 1024)
		return (unsigned)((n + 7) / 8 - 1);
	if (n <= 2048)
		return 128 + (unsigned)((n - 1024 + 15) / 16 - 1);
	return 192 + (unsigned)((n - 2048 + 31) / 32 - 1);
}

static size_t class_size(unsigned c)
{
	if (c < 128)
		return (size_t)(c + 1) * 8;
	if (c < 192)
		return 1024 + (size_t)(c - 127) * 16;
	return 2048 + (size_t)(c - 191) * 32;
}

size_t vg_slab_slot(size_t n)
{
	return n == 0 || n > VG_SLAB_MAX ? n : class_size(class_of(n));
}

static struct map *map_of(const void *p)
{
	return (struct map *)((uintptr_t)p & ~(uintptr_t)(MAP_BYTES - 1));
}

static struct slab *slab_of(const void *p)
{
	return &map_of(p)->slabs[((uintptr_t)p >> SLAB_SHIFT) & (SLABS_PER_MAP - 1)];
}

static uint8_t *slab_base(struct slab *s)
{
	struct map *m = map_of(s);

	return (uint8_t *)m + ((size_t)(s - m->slabs) << SLAB_SHIFT);
}

struct vg_slab *vg_slab_new(void)
{
	struct vg_slab *a = calloc(1, sizeof(*a));
	long page = sysconf(_SC_PAGESIZE);

	if (a == NULL)
		return NULL;
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		free(a);
		return NULL;
	}
	a->page = page > 0 && (size_t)page <= SLAB_BYTES ? (size_t)page : 4096;
	for (unsigned c = 0; c < N_CLASSES; c++) {
		a->cls[c].size = (uint32_t)class_size(c);
		a->cls[c].per_slab = (uint16_t)(SLAB_BYTES / class_size(c));
	}
	return a;
}

void vg_slab_free_all(struct vg_slab *a)
{
	struct map *m, *next;

	if (a == NULL)
		return;
	for (m = a->maps; m != NULL; m = next) {
		next = m->next;
		munmap(m, MAP_BYTES);
	}
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* A new mapping, aligned to its size: map twice that, unmap the ends. */
static struct map *map_new(struct vg_slab *a)
{
	uint8_t *p = mmap(NULL, 2 * MAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t at;
	struct map *m;

	if (p == MAP_FAILED)
		return NULL;
	at = ((uintptr_t)p + MAP_BYTES - 1) & ~(uintptr_t)(MAP_BYTES - 1);
	if (at > (uintptr_t)p)
		munmap(p, at - (uintptr_t)p);
	munmap((uint8_t *)at + MAP_BYTES, (uintptr_t)p + 2 * MAP_BYTES - at - MAP_BYTES);
	m = (struct map *)at;
	m->n_slabs = 1;
	m->next = a->maps;
	a->maps = m;
	a->mem.mapped += MAP_BYTES;
	a->mem.resident += (sizeof(*m) + a->page - 1) / a->page * a->page;
	return m;
}

static void list_push(struct slab **head, struct slab *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void list_remove(struct slab **head, struct slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

/* An empty slab for class c: a kept one, a given-back one, or a new one. */
static struct slab *slab_take(struct vg_slab *a, unsigned c)
{
	struct slab *s;

	if ((s = a->kept) != NULL) {
		list_remove(&a->kept, s);
		a->n_kept--;
	} else if ((s = a->returned) != NULL) {
		list_remove(&a->returned, s);
		a->mem.slabs_returned--;
	} else {
		struct map *m = a->maps;
		if ((m == NULL || m->n_slabs == SLABS_PER_MAP) && (m = map_new(a)) == NULL)
			return NULL;
		s = &m->slabs[m->n_slabs++];
		s->touched = 0;
	}
	s->free = NULL;
	s->cls = (uint16_t)c;
	s->live = s->bumped = 0;
	a->mem.slabs_used++;
	list_push(&a->cls[c].partial, s);
	return s;
}

/* s's last slot was freed: to the kept ones, or its pages given back. */
static void slab_empty(struct vg_slab *a, struct slab *s)
{
	list_remove(&a->cls[s->cls].partial, s);
	s->cls = NO_CLASS;
	a->mem.slabs_used--;
	if (a->n_kept < KEEP_EMPTY || madvise(slab_base(s), SLAB_BYTES, MADV_DONTNEED) != 0) {
		list_push(&a->kept, s);
		a->n_kept++;
		return;
	}
	a->mem.resident -= s->touched;
	a->mem.madvised++;
	a->mem.slabs_returned++;
	s->touched = 0;
	list_push(&a->returned, s);
}

void *vg_slab_alloc(struct vg_slab *a, size_t n)
{
	struct slab *s;
	struct cls *k;
	unsigned c;
	uint8_t *p;

	if (n == 0)
		n = 1;
	if (n > VG_SLAB_MAX) {
		if ((p = malloc(n)) == NULL)
			return NULL;
		pthread_mutex_lock(&a->mu);
		a->mem.large_bytes += n;
		a->mem.large_n++;
		a->mem.asked += n;
		pthread_mutex_unlock(&a->mu);
		return p;
	}
	c = class_of(n);
	k = &a->cls[c];
	pthread_mutex_lock(&a->mu);
	if ((s = k->partial) == NULL && (s = slab_take(a, c)) == NULL) {
		pthread_mutex_unlock(&a->mu);
		return NULL;
	}
	if (s->free) {
		p = s->free;
		memcpy(&s->free, p, sizeof(void *));
	} else {
		size_t end = (size_t)(s->bumped + 1) * k->size;
		p = slab_base(s) + (size_t)s->bumped * k->size;
		s->bumped++;
		end = (end + a->page - 1) / a->page * a->page;
		if (end > s->touched) {
			a->mem.resident += end - s->touched;
			s->touched = (uint32_t)end;
		}
	}
	if (++s->live == k->per_slab)
		list_remove(&k->partial, s);
	a->mem.asked += n;
	a->mem.slots += k->size;
	pthread_mutex_unlock(&a->mu);
	return p;
}

void vg_slab_free(struct vg_slab *a, void *p, size_t n)
{
	struct slab *s;
	struct cls *k;

	if (p == NULL)
		return;
	if (n == 0)
		n = 1;
	if (n > VG_SLAB_MAX) {
		free(p);
		pthread_mutex_lock(&a->mu);
		a->mem.large_bytes -= n;
		a->mem.large_n--;
		a->mem.asked -= n;
		pthread_mutex_unlock(&a->mu);
		return;
	}
	s = slab_of(p);
	pthread_mutex_lock(&a->mu);
	k = &a->cls[s->cls];
	memcpy(p, &s->free, sizeof(void *));
	s->free = p;
	if (s->live-- == k->per_slab)
		list_push(&k->partial, s);
	a->mem.asked -= n;
	a->mem.slots -= k->size;
	if (s->live == 0)
		slab_empty(a, s);
	pthread_mutex_unlock(&a->mu);
}

void vg_slab_memory(struct vg_slab *a, struct vg_slab_mem *out)
{
	pthread_mutex_lock(&a->mu);
	*out = a->mem;
	out->slabs_kept = a->n_kept;
	pthread_mutex_unlock(&a->mu);
}
