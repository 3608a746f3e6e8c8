/* SPDX-License-Identifier: GPL-2.0 */
/* Small containers for the engine: an intrusive list, a hash, a range set. */
#ifndef __TSMTRACE_UTIL_H
#define __TSMTRACE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

struct list_head {
	struct list_head *next, *prev;
};

static inline void list_init(struct list_head *h)
{
	h->next = h->prev = h;
}

static inline void list_add_tail(struct list_head *n, struct list_head *h)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void list_del_init(struct list_head *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

static inline bool list_empty(const struct list_head *h)
{
	return h->next == h;
}

#define list_for_each_safe(p, t, h) \
	for (p = (h)->next, t = p->next; p != (h); p = t, t = p->next)

/*
 * An open-addressing hash of objects keyed by up to three u64, linear
 * probing with backward-shift deletion (no tombstones, so lookups stay
 * short however many objects come and go).
 */
struct hkey {
	__u64 k[3];
};

struct hent {
	struct hkey key;
	void *val;		/* NULL: empty slot */
};

struct hash {
	struct hent *ent;
	size_t mask;		/* capacity - 1, capacity a power of two */
	size_t nr;
};

int hash_init(struct hash *h, size_t cap);
void hash_fini(struct hash *h);
void *hash_find(const struct hash *h, const struct hkey *k);
int hash_add(struct hash *h, const struct hkey *k, void *val);	/* -ENOMEM */
void *hash_del(struct hash *h, const struct hkey *k);

/* iterate: for (i = 0; i <= h->mask; i++) if (h->ent[i].val) ... */

/* a set of disjoint, non-adjacent PFN ranges [start, end), sorted */
struct rseg {
	__u64 start, end;
};

struct rset {
	struct rseg *seg;
	size_t nr, cap;
};

void rset_init(struct rset *s);
void rset_fini(struct rset *s);
void rset_clear(struct rset *s);
int rset_add(struct rset *s, __u64 start, __u64 end);	/* -ENOMEM */
int rset_remove(struct rset *s, __u64 start, __u64 end);
bool rset_overlaps(const struct rset *s, __u64 start, __u64 end);
bool rset_covers(const struct rset *s, __u64 start, __u64 end);
/* the first segment that ends after @pfn (s->nr: none) */
size_t rset_lower(const struct rset *s, __u64 pfn);
/* PFNs of [start, end) in the set */
__u64 rset_count(const struct rset *s, __u64 start, __u64 end);

/* CRC32C (Castagnoli): crc = crc32c(crc, buf, len), start with 0 */
__u32 crc32c(__u32 crc, const void *buf, size_t len);

/* the running kernel's GNU build ID: its size, 0 if none, or -errno */
int kernel_build_id(__u8 *id, size_t len);

struct iovec;
/* all of @n (at most 4) buffers to @fd; 0 or -errno */
int write_all(int fd, const struct iovec *iov, int n);

#endif
