// SPDX-License-Identifier: GPL-2.0
/* Containers for the engine and the CRC32C of the trace file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include "util.h"

/* --- hash --- */

static inline size_t hkey_hash(const struct hkey *k)
{
	__u64 h = k->k[0] * 0x9e3779b97f4a7c15ULL;

	h ^= (k->k[1] + 0x632be59bd9b4e019ULL) * 0xc2b2ae3d27d4eb4fULL;
	h ^= (k->k[2] + 0x165667b19e3779f9ULL) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (size_t)h;
}

static inline bool hkey_eq(const struct hkey *a, const struct hkey *b)
{
	return a->k[0] == b->k[0] && a->k[1] == b->k[1] && a->k[2] == b->k[2];
}

int hash_init(struct hash *h, size_t cap)
{
	size_t c = 16;

	while (c < cap)
		c <<= 1;
	h->ent = calloc(c, sizeof(*h->ent));
	if (!h->ent)
		return -ENOMEM;
	h->mask = c - 1;
	h->nr = 0;
	return 0;
}

void hash_fini(struct hash *h)
{
	free(h->ent);
	h->ent = NULL;
	h->mask = h->nr = 0;
}

void *hash_find(const struct hash *h, const struct hkey *k)
{
	size_t i = hkey_hash(k) & h->mask;

	for (;; i = (i + 1) & h->mask) {
		const struct hent *e = &h->ent[i];

		if (!e->val)
			return NULL;
		if (hkey_eq(&e->key, k))
			return e->val;
	}
}

static int hash_grow(struct hash *h)
{
	struct hash n;
	size_t i;

	if (hash_init(&n, (h->mask + 1) * 2))
		return -ENOMEM;
	for (i = 0; i <= h->mask; i++) {
		struct hent *e = &h->ent[i];
		size_t j;

		if (!e->val)
			continue;
		j = hkey_hash(&e->key) & n.mask;
		while (n.ent[j].val)
			j = (j + 1) & n.mask;
		n.ent[j] = *e;
		n.nr++;
	}
	free(h->ent);
	*h = n;
	return 0;
}

int hash_add(struct hash *h, const struct hkey *k, void *val)
{
	size_t i;

	if ((h->nr + 1) * 4 > (h->mask + 1) * 3 && hash_grow(h))
		return -ENOMEM;
	i = hkey_hash(k) & h->mask;
	while (h->ent[i].val)
		i = (i + 1) & h->mask;
	h->ent[i].key = *k;
	h->ent[i].val = val;
	h->nr++;
	return 0;
}

void *hash_del(struct hash *h, const struct hkey *k)
{
	size_t i = hkey_hash(k) & h->mask, j;
	void *val;

	for (;; i = (i + 1) & h->mask) {
		if (!h->ent[i].val)
			return NULL;
		if (hkey_eq(&h->ent[i].key, k))
			break;
	}
	val = h->ent[i].val;
	/* backward shift: move later entries of the probe chain into the hole */
	for (j = (i + 1) & h->mask; h->ent[j].val; j = (j + 1) & h->mask) {
		size_t home = hkey_hash(&h->ent[j].key) & h->mask;

		/* can the entry at j move to i? only if home is not in (i, j] */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			h->ent[i] = h->ent[j];
			i = j;
		}
	}
	h->ent[i].val = NULL;
	h->nr--;
	return val;
}

/* --- range set --- */

void rset_init(struct rset *s)
{
	s->seg = NULL;
	s->nr = s->cap = 0;
}

void rset_fini(struct rset *s)
{
	free(s->seg);
	rset_init(s);
}

void rset_clear(struct rset *s)
{
	s->nr = 0;
}

/* first segment whose end > pfn */
size_t rset_lower(const struct rset *s, __u64 pfn)
{
	size_t lo = 0, hi = s->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->seg[mid].end > pfn)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int rset_reserve(struct rset *s, size_t nr)
{
	struct rseg *n;
	size_t cap;

	if (nr <= s->cap)
		return 0;
	cap = s->cap ? s->cap * 2 : 4;
	while (cap < nr)
		cap *= 2;
	n = realloc(s->seg, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->seg = n;
	s->cap = cap;
	return 0;
}

int rset_add(struct rset *s, __u64 start, __u64 end)
{
	size_t i, j;

	if (start >= end)
		return 0;
	/* segments i..j-1 touch or overlap [start, end) and merge with it */
	i = rset_lower(s, start);
	if (i > 0 && s->seg[i - 1].end == start)
		i--;
	for (j = i; j < s->nr && s->seg[j].start <= end; j++) {
		if (s->seg[j].start < start)
			start = s->seg[j].start;
		if (s->seg[j].end > end)
			end = s->seg[j].end;
	}
	if (i == j) {
		if (rset_reserve(s, s->nr + 1))
			return -ENOMEM;
		memmove(&s->seg[i + 1], &s->seg[i], (s->nr - i) * sizeof(*s->seg));
		s->nr++;
	} else if (j - i > 1) {
		memmove(&s->seg[i + 1], &s->seg[j], (s->nr - j) * sizeof(*s->seg));
		s->nr -= j - i - 1;
	}
	s->seg[i].start = start;
	s->seg[i].end = end;
	return 0;
}

int rset_remove(struct rset *s, __u64 start, __u64 end)
{
	size_t i, j, k;
	struct rseg head = { 0, 0 }, tail = { 0, 0 };
	size_t keep;

	if (start >= end)
		return 0;
	i = rset_lower(s, start);
	for (j = i; j < s->nr && s->seg[j].start < end; j++)
		;
	if (i == j)
		return 0;
	if (s->seg[i].start < start)
		head = (struct rseg){ s->seg[i].start, start };
	if (s->seg[j - 1].end > end)
		tail = (struct rseg){ end, s->seg[j - 1].end };
	keep = (head.end > head.start) + (tail.end > tail.start);
	if (keep > j - i && rset_reserve(s, s->nr + 1))
		return -ENOMEM;
	memmove(&s->seg[i + keep], &s->seg[j], (s->nr - j) * sizeof(*s->seg));
	s->nr = s->nr - (j - i) + keep;
	k = i;
	if (head.end > head.start)
		s->seg[k++] = head;
	if (tail.end > tail.start)
		s->seg[k] = tail;
	return 0;
}

bool rset_overlaps(const struct rset *s, __u64 start, __u64 end)
{
	size_t i;

	if (start >= end || !s->nr)
		return false;
	i = rset_lower(s, start);
	return i < s->nr && s->seg[i].start < end;
}

bool rset_covers(const struct rset *s, __u64 start, __u64 end)
{
	size_t i;

	if (start >= end)
		return true;
	i = rset_lower(s, start);
	return i < s->nr && s->seg[i].start <= start && s->seg[i].end >= end;
}

__u64 rset_count(const struct rset *s, __u64 start, __u64 end)
{
	__u64 c = 0;
	size_t i;

	for (i = rset_lower(s, start); i < s->nr && s->seg[i].start < end; i++) {
		__u64 lo = s->seg[i].start > start ? s->seg[i].start : start;
		__u64 hi = s->seg[i].end < end ? s->seg[i].end : end;

		c += hi - lo;
	}
	return c;
}

/* --- CRC32C --- */

static __u32 crc_tab[8][256];
static int crc_ready;	/* 1: tables, 2: SSE4.2 */

static void crc_init(void)
{
	__u32 i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_tab[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (j = 1; j < 8; j++)
			crc_tab[j][i] = (crc_tab[j - 1][i] >> 8) ^
					crc_tab[0][crc_tab[j - 1][i] & 0xff];
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc_ready = __builtin_cpu_supports("sse4.2") && !getenv("TSMTRACE_SOFT_CRC") ? 2 : 1;
#else
	crc_ready = 1;
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static __u32 crc32c_hw(__u32 c, const unsigned char *p, size_t len)
{
	__u64 c64 = c;

	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi(c, *p++);
		len--;
	}
	c64 = c;
	while (len >= 8) {
		__u64 v;

		memcpy(&v, p, 8);
		c64 = __builtin_ia32_crc32di(c64, v);
		p += 8;
		len -= 8;
	}
	c = (__u32)c64;
	while (len--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

static __u32 crc32c_sw(__u32 c, const unsigned char *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
		len--;
	}
	while (len >= 8) {
		__u32 lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= c;
		c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		    crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		    crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		    crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

__u32 crc32c(__u32 crc, const void *buf, size_t len)
{
	__u32 c = ~crc;

	if (!crc_ready)
		crc_init();
#if defined(__x86_64__)
	if (crc_ready == 2)
		return ~crc32c_hw(c, buf, len);
#endif
	return ~crc32c_sw(c, buf, len);
}

/*
 * The running kernel's GNU build ID, from the ELF notes of
 * /sys/kernel/notes: its size (at most @len bytes are copied), 0 when the
 * kernel has none, or -errno.
 */
int kernel_build_id(__u8 *id, size_t len)
{
	unsigned char buf[4096];
	size_t pos = 0;
	ssize_t n;
	int fd;

	fd = open("/sys/kernel/notes", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	/* Elf64_Nhdr and Elf32_Nhdr are the same: namesz, descsz, type */
	while (pos + 12 <= (size_t)n) {
		__u32 namesz, descsz, type;
		size_t name_at = pos + 12, desc_at;

		memcpy(&namesz, buf + pos, 4);
		memcpy(&descsz, buf + pos + 4, 4);
		memcpy(&type, buf + pos + 8, 4);
		desc_at = name_at + ((namesz + 3) & ~3u);
		if (namesz > sizeof(buf) || descsz > sizeof(buf) || desc_at + descsz > (size_t)n)
			break;
		if (type == 3 /* NT_GNU_BUILD_ID */ && namesz == 4 &&
		    !memcmp(buf + name_at, "GNU", 4)) {
			if (descsz > len)
				descsz = len;
			memcpy(id, buf + desc_at, descsz);
			return descsz;
		}
		pos = desc_at + ((descsz + 3) & ~3u);
	}
	return 0;
}

/* all of @n (at most 4) buffers, whatever writev() takes at a time; -errno */
int write_all(int fd, const struct iovec *iov, int n)
{
	struct iovec v[4];
	int i;

	memcpy(v, iov, n * sizeof(*v));
	i = 0;
	while (i < n) {
		ssize_t r = writev(fd, &v[i], n - i);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (i < n && (size_t)r >= v[i].iov_len) {
			r -= v[i].iov_len;
			i++;
		}
		if (i < n) {
			v[i].iov_base = (char *)v[i].iov_base + r;
			v[i].iov_len -= r;
		}
	}
	return 0;
}
