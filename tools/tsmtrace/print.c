// SPDX-License-Identifier: GPL-2.0
/* Human and JSON Lines output of records and violations. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <tsmtrace/trace-file.h>
#include "builtin.h"
#include "tracefile.h"
#include "util.h"

/*
 * A line being built. live prints every transition, and in the lab guest
 * snprintf() made printing cost more than everything else the reader does
 * for an event together: the fields are put by hand. Writes stop at the end
 * of the buffer, which stays NUL-terminated.
 */
struct line {
	char *p, *end;		/* end: the last byte, kept for the NUL */
	bool json;		/* the fields as JSON members, not key=value */
	bool first;		/* no field put yet */
};

static __always_inline void put_c(struct line *l, char c)
{
	if (l->p < l->end)
		*l->p++ = c;
}

/*
 * @n bytes of @s. The check is made once, not per byte: for a string whose
 * length the compiler knows (a key, a literal) the copy is a few moves.
 */
static __always_inline void put_mem(struct line *l, const char *s, size_t n)
{
	size_t room = l->end - l->p;

	if (__builtin_expect(n <= room, 1)) {
		memcpy(l->p, s, n);
		l->p += n;
	} else {
		memcpy(l->p, s, room);
		l->p += room;
	}
}

static __always_inline void put_s(struct line *l, const char *s)
{
	put_mem(l, s, strlen(s));
}

/* @n times @c */
static __always_inline void put_pad(struct line *l, char c, size_t n)
{
	size_t room = l->end - l->p;

	if (n > room)
		n = room;
	memset(l->p, c, n);
	l->p += n;
}

/* how many digits @v has in base 10 or 16 */
static __always_inline unsigned int nr_digits(uint64_t v, unsigned int base)
{
	unsigned int n = 1;

	if (base == 16)
		return v ? (67 - __builtin_clzll(v)) / 4 : 1;
	for (; v >= 10000; v /= 10000)
		n += 4;
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* the digits of @v in @base, last first, ending at @end: two a division in decimal */
static __always_inline void put_digits(char *end, uint64_t v, unsigned int base)
{
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	static const char hex_pairs[] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
		"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
		"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
		"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
		"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
		"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

	if (base == 16) {
		/* a byte a step */
		for (; v >= 0x100; v >>= 8) {
			end -= 2;
			memcpy(end, hex_pairs + 2 * (v & 0xff), 2);
		}
		if (v >= 0x10)
			memcpy(end - 2, hex_pairs + 2 * v, 2);
		else
			end[-1] = "0123456789abcdef"[v];
		return;
	}
	for (; v >= 100; v /= 100) {
		end -= 2;
		memcpy(end, pairs + 2 * (v % 100), 2);
	}
	if (v >= 10)
		memcpy(end - 2, pairs + 2 * v, 2);
	else
		end[-1] = '0' + v;
}

/*
 * @v in @base, padded to @width: with @pad on the left, or spaces on the
 * right. The digits go straight into the line; only a number that does not
 * fit what is left of it goes through a buffer, for its first digits.
 */
static __always_inline void put_num(struct line *l, uint64_t v, unsigned int base,
				    unsigned int width, char pad, bool left_pad)
{
	unsigned int n = nr_digits(v, base);
	size_t room;
	char d[24];

	if (left_pad && width > n)
		put_pad(l, pad, width - n);
	room = l->end - l->p;
	if (__builtin_expect(n <= room, 1)) {
		put_digits(l->p + n, v, base);
		l->p += n;
	} else {
		put_digits(d + n, v, base);
		memcpy(l->p, d, room);
		l->p += room;
	}
	if (!left_pad && width > n)
		put_pad(l, ' ', width - n);
}

static void put_u(struct line *l, uint64_t v)
{
	put_num(l, v, 10, 0, ' ', true);
}

static void put_hex(struct line *l, uint64_t v)
{
	put_s(l, "0x");
	put_num(l, v, 16, 0, ' ', true);
}

/* segment:bus:device.function; a 64-bit name has segments above 0xffff */
static void put_dev(struct line *l, __u64 dev)
{
	put_num(l, dev >> 16, 16, 4, '0', true);
	put_c(l, ':');
	put_num(l, (dev >> 8) & 0xff, 16, 2, '0', true);
	put_c(l, ':');
	put_num(l, (dev >> 3) & 0x1f, 16, 2, '0', true);
	put_c(l, '.');
	put_num(l, dev & 7, 16, 0, '0', true);
}

static void line_init(struct line *l, char *buf, size_t len)
{
	l->p = buf;
	l->end = buf + len - 1;
	l->json = false;
	l->first = true;
}

static void line_end(struct line *l)
{
	*l->p = 0;
}

void fmt_dev(char *buf, size_t len, __u64 dev)
{
	struct line l;

	line_init(&l, buf, len);
	put_dev(&l, dev);
	line_end(&l);
}

/* "SSSS:BB:DD.F", "BB:DD.F" or a number (0x...) */
int parse_dev(const char *s, __u32 *dev)
{
	unsigned int seg = 0, bus, d, fn;
	char *end;
	int n = 0;

	if (sscanf(s, "%x:%x:%x.%x%n", &seg, &bus, &d, &fn, &n) == 4 && !s[n]) {
		/* full form */
	} else if (n = 0, seg = 0, sscanf(s, "%x:%x.%x%n", &bus, &d, &fn, &n) == 3 && !s[n]) {
		/* short form */
	} else {
		unsigned long v = strtoul(s, &end, 0);

		if (!*s || *end || v > 0xffffffffUL)
			return -1;
		*dev = (__u32)v;
		return 0;
	}
	if (seg > 0xffff || bus > 0xff || d > 0x1f || fn > 7)
		return -1;
	*dev = seg << 16 | bus << 8 | d << 3 | fn;
	return 0;
}

static const char *sym(unsigned int v, const char *const *names, unsigned int nr)
{
	return v < nr ? names[v] : "?";
}

static const char *const attr_names[] = { "SHARED", "PRIVATE" };
static const char *const kind_names[] = { "SHARED", "PRIVATE" };
static const char *const tdi_names[] = { "CONFIG_UNLOCKED", "CONFIG_LOCKED", "RUN", "ERROR" };
static const char *const unbind_names[] = { "USER", "DESTROY", "ERROR", "RELEASE" };
static const char *const revoke_names[] = {
	"BIND", "UNBIND", "TDI_ERROR", "RESET", "MEM_DISABLE", "CLOSE", "D3", "UNSPECIFIED" };
static const char *const unmap_names[] = { "USER", "REVOKE", "DESTROY" };
static const char *const lost_names[] = { "RINGBUF", "MAP_FULL", "READER" };

#define SYM(v, n) sym(v, n, ARRAY_SIZE(n))

/*
 * The fields of an event: "key=value" separated by spaces in text, and
 * ,"key":value members in JSON. One rule for JSON, in events and violations
 * alike: addresses and kernel pointers (PFN ranges, IOVAs, GFNs, ctx, vm)
 * are hex strings, as the text prints them and without the loss of
 * precision JSON numbers have past 2^53; counts, ids and indexes are
 * numbers; enumerations are their names.
 */
static __always_inline void put_key(struct line *l, const char *key)
{
	if (!l->first)
		put_c(l, l->json ? ',' : ' ');
	l->first = false;
	if (!l->json) {
		put_s(l, key);
		put_c(l, '=');
		return;
	}
	put_c(l, '"');
	put_s(l, key);
	put_s(l, "\":");
}

static __always_inline void put_ku(struct line *l, const char *key, uint64_t v)
{
	put_key(l, key);
	put_u(l, v);
}

static __always_inline void put_ki(struct line *l, const char *key, int64_t v)
{
	put_key(l, key);
	if (v < 0)
		put_c(l, '-');
	put_u(l, v < 0 ? -(uint64_t)v : (uint64_t)v);
}

/* the quote around a JSON string; nothing in text */
static __always_inline void put_quote(struct line *l)
{
	if (l->json)
		put_c(l, '"');
}

/* a string that needs no escaping: a name, a device */
static __always_inline void put_kq(struct line *l, const char *key, const char *v)
{
	put_key(l, key);
	put_quote(l);
	put_s(l, v);
	put_quote(l);
}

static __always_inline void put_kx(struct line *l, const char *key, uint64_t v)
{
	put_key(l, key);
	put_quote(l);
	put_hex(l, v);
	put_quote(l);
}

/* an id the text prints in hex (a KVM slot: address space << 16 | id) */
static __always_inline void put_kxid(struct line *l, const char *key, uint64_t v)
{
	if (l->json)
		put_ku(l, key, v);
	else
		put_kx(l, key, v);
}

static __always_inline void put_kbool(struct line *l, const char *key, bool v)
{
	put_key(l, key);
	if (l->json)
		put_s(l, v ? "true" : "false");
	else
		put_u(l, v);
}

static __always_inline void put_kdev(struct line *l, const char *key, __u64 dev)
{
	put_key(l, key);
	put_quote(l);
	put_dev(l, dev);
	put_quote(l);
}

/* " OLD->NEW" in text; "old_@what":"OLD","new_@what":"NEW" in JSON */
static void put_change(struct line *l, const char *what, const char *old, const char *new)
{
	if (!l->json) {
		put_c(l, ' ');
		put_s(l, old);
		put_s(l, "->");
		put_s(l, new);
		return;
	}
	put_s(l, ",\"old_");
	put_s(l, what);
	put_s(l, "\":\"");
	put_s(l, old);
	put_s(l, "\",\"new_");
	put_s(l, what);
	put_s(l, "\":\"");
	put_s(l, new);
	put_c(l, '"');
}

/* the event's fields, as key=value or as JSON members */
static void put_fields(struct line *l, const struct tsm_rec_hdr *rec)
{
	switch (rec->type) {
	case TSM_REC_PCI_TSM_BIND_BEGIN:
	case TSM_REC_PCI_TSM_BIND_END:
	case TSM_REC_PCI_TSM_UNBIND_BEGIN:
	case TSM_REC_PCI_TSM_UNBIND_END: {
		const struct tsm_ev_pci_tsm_op *e = (const void *)rec;
		bool unbind = rec->type >= TSM_REC_PCI_TSM_UNBIND_BEGIN;

		put_kdev(l, "dev", e->dev);
		put_ku(l, "tdi_id", e->tdi_id);
		put_kx(l, "vm", e->vm);
		/* a bind has no reason: the text says 0, JSON leaves it out */
		if (unbind)
			put_kq(l, "reason", SYM(e->reason, unbind_names));
		else if (!l->json)
			put_kq(l, "reason", "0");
		put_ki(l, "ret", e->ret);
		break;
	}
	case TSM_REC_PCI_TSM_TDI_STATE: {
		const struct tsm_ev_pci_tsm_tdi_state *e = (const void *)rec;

		put_kdev(l, "dev", e->dev);
		put_ku(l, "tdi_id", e->tdi_id);
		put_change(l, "state", SYM(e->old_state, tdi_names), SYM(e->new_state, tdi_names));
		break;
	}
	case TSM_REC_PCI_TSM_RANGE: {
		const struct tsm_ev_pci_tsm_range *e = (const void *)rec;

		put_kdev(l, "dev", e->dev);
		put_ku(l, "bar", e->bar);
		put_kx(l, "pfn", e->pfn);
		put_kx(l, "npfns", e->npfns);
		put_change(l, "attr", SYM(e->old_attr, attr_names), SYM(e->new_attr, attr_names));
		break;
	}
	case TSM_REC_VFIO_DMABUF_EXPORT_RANGE: {
		const struct tsm_ev_vfio_dmabuf_range *e = (const void *)rec;

		put_ku(l, "buf", e->buf);
		put_kdev(l, "dev", e->dev);
		put_ku(l, "bar", e->bar);
		put_kq(l, "kind", SYM(e->kind, kind_names));
		put_kx(l, "pfn", e->pfn);
		put_kx(l, "npfns", e->npfns);
		break;
	}
	case TSM_REC_VFIO_DMABUF_EXPORT:
	case TSM_REC_VFIO_DMABUF_REVOKE:
	case TSM_REC_VFIO_DMABUF_RELEASE:
	case TSM_REC_VFIO_DMABUF_RESTORE: {
		const struct tsm_ev_vfio_dmabuf_obj *e = (const void *)rec;

		put_ku(l, "buf", e->buf);
		put_kdev(l, "dev", e->dev);
		put_ku(l, "bar", e->bar);
		put_kq(l, "kind", SYM(e->kind, kind_names));
		if (rec->type == TSM_REC_VFIO_DMABUF_EXPORT)
			put_ku(l, "nr_ranges", e->arg);
		else if (rec->type == TSM_REC_VFIO_DMABUF_REVOKE)
			put_kq(l, "reason", SYM(e->arg, revoke_names));
		else if (rec->type == TSM_REC_VFIO_DMABUF_RESTORE)
			put_kq(l, "ended", SYM(e->arg, revoke_names));
		break;
	}
	case TSM_REC_IOMMUFD_IOAS_MAP_DMABUF:
	case TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF: {
		const struct tsm_ev_iommufd_ioas_dmabuf *e = (const void *)rec;
		bool map = rec->type == TSM_REC_IOMMUFD_IOAS_MAP_DMABUF;

		put_kx(l, "ctx", e->ctx);
		put_ku(l, "ioas", e->ioas);
		put_kx(l, "iova", e->iova);
		put_ku(l, "buf", e->buf);
		put_kx(l, "pfn", e->pfn);
		put_kx(l, "npfns", e->npfns);
		if (map)
			put_kq(l, "kind", SYM(e->arg, kind_names));
		else
			put_kq(l, "reason", SYM(e->arg, unmap_names));
		break;
	}
	case TSM_REC_IOMMU_MAP_DMABUF:
	case TSM_REC_IOMMU_UNMAP_DMABUF: {
		const struct tsm_ev_iommu_dmabuf *e = (const void *)rec;

		put_kx(l, "domain", e->domain);
		put_kdev(l, "dev", e->dev);
		put_kx(l, "iova", e->iova);
		put_ku(l, "buf", e->buf);
		put_kx(l, "pfn", e->pfn);
		put_kx(l, "npfns", e->npfns);
		if (rec->type == TSM_REC_IOMMU_MAP_DMABUF)
			put_kq(l, "kind", SYM(e->arg, kind_names));
		else
			put_kq(l, "reason", SYM(e->arg, unmap_names));
		break;
	}
	case TSM_REC_KVM_SPTE_MAP:
	case TSM_REC_KVM_SPTE_UNMAP: {
		const struct tsm_ev_kvm_spte *e = (const void *)rec;

		put_kx(l, "gfn", e->gfn);
		put_kx(l, "pfn", e->pfn);
		put_kx(l, "npfns", e->npfns);
		put_ku(l, "level", e->level);
		put_ku(l, "as_id", e->as_id);
		if (e->dev)
			put_kdev(l, "dev", e->dev);
		break;
	}
	case TSM_REC_VFIO_PCI_BAR_MAP:
	case TSM_REC_VFIO_PCI_BAR_ZAP: {
		const struct tsm_ev_vfio_pci_bar *e = (const void *)rec;

		put_kdev(l, "dev", e->dev);
		put_ku(l, "bar", e->bar);
		put_kx(l, "pfn", e->pfn);
		put_kx(l, "npfns", e->npfns);
		break;
	}
	case TSM_REC_KVM_DMABUF_SLOT_BIND:
	case TSM_REC_KVM_DMABUF_SLOT_UNBIND: {
		const struct tsm_ev_kvm_dmabuf_slot *e = (const void *)rec;

		put_kx(l, "vm", e->vm);
		put_kxid(l, "slot", e->slot);
		put_kx(l, "gfn", e->gfn);
		put_ku(l, "buf", e->buf);
		put_kx(l, "pfn", e->pfn);
		put_kx(l, "npfns", e->npfns);
		if (rec->type == TSM_REC_KVM_DMABUF_SLOT_BIND)
			put_kbool(l, "private", e->arg);
		else
			put_kq(l, "reason", SYM(e->arg, unmap_names));
		break;
	}
	case TSM_REC_LOST: {
		const struct tsm_rec_lost *e = (const void *)rec;

		put_ku(l, "nr", e->nr);
		put_kq(l, "source", SYM(e->source, lost_names));
		break;
	}
	case TSM_REC_STACK: {
		const struct tsm_rec_stack *e = (const void *)rec;

		put_ku(l, "event_seq", e->event_seq);
		put_ku(l, "frames", e->nr);
		break;
	}
	default:
		/* "type" is the JSON line's own */
		put_ku(l, l->json ? "record_type" : "type", rec->type);
		put_ku(l, "size", rec->size);
		break;
	}
}

/* "seq N  S.NNNNNNNNN cpu C  pid P      event fields": its length */
size_t fmt_record(char *buf, size_t len, const struct tsm_rec_hdr *rec)
{
	struct line l;

	line_init(&l, buf, len);
	put_s(&l, "seq ");
	put_num(&l, rec->seq, 10, 6, ' ', false);
	put_c(&l, ' ');
	put_num(&l, rec->ts / 1000000000ULL, 10, 5, ' ', true);
	put_c(&l, '.');
	put_num(&l, rec->ts % 1000000000ULL, 10, 9, '0', true);
	put_s(&l, " cpu ");
	put_num(&l, rec->cpu, 10, 2, ' ', false);
	put_s(&l, " pid ");
	put_num(&l, rec->pid, 10, 6, ' ', false);
	put_c(&l, ' ');
	put_s(&l, tsm_rec_name(rec->type));
	put_c(&l, ' ');
	put_fields(&l, rec);
	line_end(&l);
	return l.p - buf;
}

/* the length of the well-formed UTF-8 sequence at @s (RFC 3629), or 0 */
static unsigned int utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	unsigned int n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* no overlong forms, no surrogates, nothing past U+10FFFF */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * A JSON string. The output is valid UTF-8 whatever @s holds: a byte that
 * is not part of a well-formed sequence (a header written by a foreign
 * recorder, a file name) becomes U+FFFD, the replacement character.
 */
void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		unsigned int n = utf8_len(p);

		if (!n) {
			fputs("\\ufffd", f);
			p++;
		} else if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p++, f);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p++);
		} else {
			fwrite(p, 1, n, f);
			p += n;
		}
	}
	fputc('"', f);
}

void print_record_json(FILE *f, const struct tsm_rec_hdr *rec, const unsigned int *vn,
		       unsigned int nr_vn)
{
	char buf[1024];
	struct line l;
	unsigned int i;

	line_init(&l, buf, sizeof(buf));
	l.json = true;
	put_s(&l, "{\"type\":\"event\"");
	l.first = false;
	put_ku(&l, "seq", rec->seq);
	put_ku(&l, "ts", rec->ts);
	put_ku(&l, "cpu", rec->cpu);
	put_ku(&l, "pid", rec->pid);
	put_kq(&l, "event", tsm_rec_name(rec->type));
	put_fields(&l, rec);
	if (nr_vn) {
		put_s(&l, ",\"violations\":[");
		for (i = 0; i < nr_vn; i++) {
			if (i)
				put_c(&l, ',');
			put_u(&l, vn[i]);
		}
		put_c(&l, ']');
	}
	put_s(&l, "}\n");
	line_end(&l);
	fputs(buf, f);
}

/* the objects as key=value (text) or as the members of a JSON object */
static void put_objects(struct line *l, const struct tsm_objects *o)
{
	if (o->valid & TSM_OBJ_DEV)
		put_kdev(l, "dev", o->dev);
	if (o->valid & TSM_OBJ_BAR)
		put_ku(l, "bar", o->bar);
	if (o->valid & TSM_OBJ_BUF)
		put_ku(l, "buf", o->buf);
	if (o->valid & TSM_OBJ_DOMAIN) {
		put_kx(l, "domain", o->ctx);
		put_kx(l, "iova", o->iova);
	} else if (o->valid & TSM_OBJ_IOAS) {
		put_kx(l, "ctx", o->ctx);
		put_ku(l, "ioas", o->ioas);
		put_kx(l, "iova", o->iova);
	}
	if (o->valid & TSM_OBJ_VM)
		put_kx(l, "vm", o->vm);
	if (o->valid & TSM_OBJ_SLOT) {
		put_kxid(l, "slot", o->slot);
		put_kx(l, "gfn", o->gfn);
	}
	if (o->valid & TSM_OBJ_SPTE) {
		put_kq(l, "kvm", "spte");
		put_kx(l, "gfn", o->gfn);
		put_ku(l, "level", o->level);
	}
	if (o->valid & TSM_OBJ_CPU)
		put_kq(l, "host", "cpu");
	if (o->valid & TSM_OBJ_RANGE) {
		put_kx(l, "pfn", o->pfn);
		put_kx(l, "npfns", o->npfns);
	}
}

/* where an object in conflict meets the event's range, and what maps it */
static void put_overlap(struct line *l, const struct tsm_objects *o)
{
	if (!(o->valid & TSM_OBJ_OVERLAP))
		return;
	if (l->json)
		put_s(l, ",\"overlap\":{");
	else
		put_s(l, "overlap: ");
	l->first = true;
	put_kx(l, "pfn", o->ov_pfn);
	put_kx(l, "npfns", o->ov_npfns);
	if (o->valid & TSM_OBJ_OV_IOVA)
		put_kx(l, "iova", o->ov_addr);
	else if (o->valid & TSM_OBJ_OV_GPA)
		put_kx(l, "gpa", o->ov_addr);
	if (l->json)
		put_c(l, '}');
}

/* @o as a JSON object */
static void json_objects(FILE *f, const struct tsm_objects *o, bool with_overlap)
{
	char buf[512];
	struct line l;

	line_init(&l, buf, sizeof(buf));
	l.json = true;
	put_objects(&l, o);
	if (with_overlap)
		put_overlap(&l, o);
	line_end(&l);
	fprintf(f, "{%s}", buf);
}

/* the objects of a text line: "dev=... bar=... buf=..." */
static void fmt_objects(char *b, size_t len, const struct tsm_objects *o)
{
	struct line l;

	line_init(&l, b, len);
	put_objects(&l, o);
	line_end(&l);
}

static void fmt_overlap(char *b, size_t len, const struct tsm_objects *o)
{
	struct line l;

	line_init(&l, b, len);
	put_overlap(&l, o);
	line_end(&l);
}

/* ---- kernel symbols for the stacks (kallsyms or System.map format) ---- */

struct ksym {
	__u64 addr;
	char *name;
};

static struct ksym *ksyms;
static size_t nr_ksyms, cap_ksyms;
static bool ksyms_sorted = true;
/* where the names come from */
static enum {
	KSYM_NONE,
	KSYM_GIVEN,		/* --symbols FILE */
	KSYM_RUNNING,		/* this host's kernel: the trace's (same build ID) */
	KSYM_SAME_RELEASE,	/* this host's kernel of the trace's release, no build ID to compare */
	KSYM_TRACE,		/* the trace's own SYMBOLS blocks */
} ksym_src;
static unsigned int frames_named, frames_unnamed;

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static const struct ksym *ksym_find(__u64 addr);

static int ksym_add(__u64 addr, const char *name)
{
	if (nr_ksyms == cap_ksyms) {
		size_t cap = cap_ksyms ? cap_ksyms * 2 : 4096;
		struct ksym *n = realloc(ksyms, cap * sizeof(*n));

		if (!n)
			return -1;
		ksyms = n;
		cap_ksyms = cap;
	}
	ksyms[nr_ksyms].addr = addr;
	ksyms[nr_ksyms].name = strdup(name);
	if (!ksyms[nr_ksyms].name)
		return -1;
	if (nr_ksyms && addr < ksyms[nr_ksyms - 1].addr)
		ksyms_sorted = false;
	nr_ksyms++;
	return 0;
}

static void ksyms_drop(void)
{
	size_t i;

	for (i = 0; i < nr_ksyms; i++)
		free(ksyms[i].name);
	nr_ksyms = 0;
	ksyms_sorted = true;
	ksym_src = KSYM_NONE;
}

static int ksyms_read(const char *path)
{
	char line[512], name[256];
	unsigned long long a;
	FILE *in;
	char t;

	in = fopen(path, "r");
	if (!in)
		return -1;
	while (fgets(line, sizeof(line), in)) {
		if (sscanf(line, "%llx %c %255s", &a, &t, name) != 3 || !a)
			continue;	/* zeros: kallsyms hides addresses from us */
		if (t != 't' && t != 'T')
			continue;
		if (ksym_add(a, name))
			break;
	}
	fclose(in);
	return nr_ksyms ? 0 : -1;
}

int ksyms_load(const char *path)
{
	if (nr_ksyms)
		return 0;
	if (ksyms_read(path))
		return -1;
	ksym_src = KSYM_GIVEN;
	return 0;
}

/*
 * The names of the frames of a trace's stacks: --symbols when given, else
 * this host's kernel when it is the one the trace was recorded on (the
 * same build ID; without one in the file, the same release, said when
 * printed), else the trace's own SYMBOLS blocks as they are read
 * (ksyms_trace_symbol()).
 */
void ksyms_auto(const struct tsm_file_header *h)
{
	__u8 id[sizeof(h->build_id)];
	struct utsname u;
	int n;

	frames_named = frames_unnamed = 0;
	if (ksym_src == KSYM_GIVEN)
		return;
	/* another file's names are not this one's */
	ksyms_drop();
	if (h->build_id_size) {
		n = kernel_build_id(id, sizeof(id));
		if (n > 0 && (__u32)n == h->build_id_size && !memcmp(id, h->build_id, n) &&
		    !ksyms_read("/proc/kallsyms"))
			ksym_src = KSYM_RUNNING;
		return;
	}
	if (!uname(&u) && !strcmp(u.release, h->kernel_release) && !ksyms_read("/proc/kallsyms"))
		ksym_src = KSYM_SAME_RELEASE;
}

void ksyms_trace_symbol(void *arg, __u64 addr, const char *name)
{
	(void)arg;
	if (ksym_src == KSYM_GIVEN)
		return;
	/*
	 * The trace's own names beat a guess from the release; with the
	 * same build they add what is gone since (the BPF programs of the
	 * recorder, unloaded when it ended).
	 */
	if (ksym_src == KSYM_SAME_RELEASE)
		ksyms_drop();
	if (!ksym_add(addr, name) && ksym_src != KSYM_RUNNING)
		ksym_src = KSYM_TRACE;
}

int ksym_symbolize(__u64 ip, __u64 *start, char *name, size_t len)
{
	const struct ksym *k = ksym_find(ip);

	if (!k || ip - k->addr >= (1u << 20))
		return -1;
	*start = k->addr;
	snprintf(name, len, "%s", k->name);
	return 0;
}

const char *ksyms_explain(const struct tsm_file_header *h, char *buf, size_t len)
{
	char id[2 * sizeof(h->build_id) + 1] = "";
	__u32 i;

	for (i = 0; i < h->build_id_size && i < sizeof(h->build_id); i++)
		snprintf(id + 2 * i, 3, "%02x", h->build_id[i]);
	if (frames_unnamed && ksym_src == KSYM_GIVEN)
		snprintf(buf, len, "%u stack frame(s) not named: no symbol of --symbols holds them (a module's or a BPF program's, or the file is not of kernel %s)",
			 frames_unnamed, h->kernel_release);
	else if (frames_unnamed && ksym_src == KSYM_RUNNING)
		snprintf(buf, len, "%u stack frame(s) not named: no symbol of this kernel (the trace's) or of the trace holds them (a BPF program or trampoline unloaded since)",
			 frames_unnamed);
	else if (frames_unnamed)
		snprintf(buf, len, "%u stack frame(s) not named: the trace %s, and it was recorded on kernel %s%s%s, not this host's; name them with --symbols and that kernel's System.map or a copy of its /proc/kallsyms",
			 frames_unnamed, ksym_src == KSYM_TRACE ? "names only some" : "names none",
			 h->kernel_release, id[0] ? " build ID " : "", id);
	else if (frames_named && ksym_src == KSYM_SAME_RELEASE)
		snprintf(buf, len, "stack frames named with this host's kernel symbols: it runs the trace's release %s, but the trace has no build ID to tell it is the same build; if it is not, the names are wrong (--symbols names them from a System.map)",
			 h->kernel_release);
	else
		return NULL;
	return buf;
}

static const struct ksym *ksym_find(__u64 addr)
{
	size_t lo = 0, hi = nr_ksyms;

	if (!ksyms_sorted) {
		qsort(ksyms, nr_ksyms, sizeof(*ksyms), ksym_cmp);
		ksyms_sorted = true;
	}

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ksyms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &ksyms[lo - 1] : NULL;
}

/* conflicts the text prints; JSON has them all */
#define TEXT_CONFLICTS	8

static const char *const tdi_phases[] = {
	[TSM_TDI_UNBOUND] = "unbound", [TSM_TDI_BINDING] = "binding",
	[TSM_TDI_BOUND] = "bound", [TSM_TDI_UNBINDING] = "unbinding",
};

/* "device D BAR B; its TDI is bound to vm=V; the slot is in vm=W" */
static void print_context(FILE *f, const struct tsm_violation *v, const char *indent)
{
	const struct tsm_objects *o = &v->obj;
	char dev[16];

	if (!(o->valid & TSM_OBJ_DEV))
		return;
	fmt_dev(dev, sizeof(dev), o->dev);
	fprintf(f, "%s    device %s", indent, dev);
	if (o->valid & TSM_OBJ_BAR)
		fprintf(f, " BAR %u", o->bar);
	if (v->tdi == TSM_TDI_UNBOUND)
		fputs("; its TDI is not bound", f);
	else if (v->tdi != TSM_TDI_UNKNOWN)
		fprintf(f, "; its TDI is %s vm=0x%" PRIx64,
			v->tdi == TSM_TDI_BOUND ? "bound to" : v->tdi == TSM_TDI_BINDING ?
			"being bound to" : "being unbound from", (uint64_t)v->tdi_vm);
	if (o->valid & TSM_OBJ_SLOT)
		fprintf(f, "; the slot is in vm=0x%" PRIx64, (uint64_t)o->vm);
	fputc('\n', f);
}

/* the objects in conflict, or the ranges still private; "and N more" past a few */
static void print_conflicts(FILE *f, const struct tsm_violation *v, const char *indent)
{
	const struct tsm_objects *all = v->conflicts ? v->conflicts : &v->other;
	unsigned int i, nr = v->conflicts ? v->nr_conflicts : !!v->nr_other;
	char objs[256], ov[128];

	for (i = 0; i < nr && i < TEXT_CONFLICTS; i++) {
		if (v->still_private) {
			fprintf(f, "%s    still private: pfn=0x%" PRIx64 " npfns=0x%" PRIx64 "\n",
				indent, (uint64_t)all[i].pfn, (uint64_t)all[i].npfns);
			continue;
		}
		fmt_objects(objs, sizeof(objs), &all[i]);
		fprintf(f, "%s    in conflict with: %s\n", indent, objs);
		fmt_overlap(ov, sizeof(ov), &all[i]);
		if (ov[0])
			fprintf(f, "%s      %s\n", indent, ov);
	}
	if (v->nr_other > i)
		fprintf(f, "%s    ... and %u more %s (all of them in JSON, -j)\n", indent,
			v->nr_other - i, v->still_private ? "private ranges" : "in conflict");
}

void print_violation(FILE *f, const struct tsm_violation *v, const char *indent)
{
	const struct tsm_rule_desc *r = &tsm_rules[v->rule];
	char line[512];
	unsigned int i;

	fmt_record(line, sizeof(line), &v->ev.hdr);
	fprintf(f, "%s#%u %s (%s): event %s not expected in state %s\n", indent, v->n,
		tsm_inv_id(r->inv), tsm_inv_title(r->inv), tsm_rec_name(v->ev.hdr.type), r->state);
	fprintf(f, "%s    %s\n", indent, r->what);
	fprintf(f, "%s    at %s\n", indent, line);
	print_context(f, v, indent);
	print_conflicts(f, v, indent);
	if (!v->nr_stack) {
		fprintf(f, "%s    stack: not captured\n", indent);
		return;
	}
	fprintf(f, "%s    stack:\n", indent);
	for (i = 0; i < v->nr_stack; i++) {
		const struct ksym *k = ksym_find(v->stack[i]);

		fprintf(f, "%s      0x%016" PRIx64, indent, (uint64_t)v->stack[i]);
		/* past the kernel's last symbol, a module or a BPF program */
		if (k && v->stack[i] - k->addr < (1u << 20)) {
			fprintf(f, " %s+0x%" PRIx64, k->name, (uint64_t)(v->stack[i] - k->addr));
			frames_named++;
		} else {
			frames_unnamed++;
		}
		fputc('\n', f);
	}
}

void print_violation_json(FILE *f, const char *file, const struct tsm_violation *v)
{
	const struct tsm_rule_desc *r = &tsm_rules[v->rule];
	char msg[256];
	unsigned int i;

	fputs("{\"type\":\"violation\"", f);
	if (file) {
		fputs(",\"file\":", f);
		json_str(f, file);
	}
	snprintf(msg, sizeof(msg), "event %s not expected in state %s",
		 tsm_rec_name(v->ev.hdr.type), r->state);
	fprintf(f, ",\"n\":%u,\"invariant\":\"%s\",\"state\":\"%s\",\"message\":",
		v->n, tsm_inv_id(r->inv), r->state);
	json_str(f, msg);
	fputs(",\"what\":", f);
	json_str(f, r->what);
	fprintf(f, ",\"event\":\"%s\",\"seq\":%" PRIu64 ",\"ts\":%" PRIu64 ",\"cpu\":%u,\"pid\":%u",
		tsm_rec_name(v->ev.hdr.type), (uint64_t)v->ev.hdr.seq, (uint64_t)v->ev.hdr.ts,
		v->ev.hdr.cpu, v->ev.hdr.pid);
	fputs(",\"objects\":", f);
	json_objects(f, &v->obj, false);
	if (v->tdi != TSM_TDI_UNKNOWN) {
		fprintf(f, ",\"tdi\":{\"phase\":\"%s\"", tdi_phases[v->tdi]);
		if (v->tdi != TSM_TDI_UNBOUND)
			fprintf(f, ",\"vm\":\"0x%" PRIx64 "\"", (uint64_t)v->tdi_vm);
		fputc('}', f);
	}
	fputs(",\"conflict\":", f);
	json_objects(f, &v->other, true);
	fprintf(f, ",\"conflicts\":%u", v->nr_other);
	if (v->nr_other && v->conflicts) {
		fprintf(f, ",\"%s\":[", v->still_private ? "still_private" : "conflicting");
		for (i = 0; i < v->nr_conflicts; i++) {
			if (i)
				fputc(',', f);
			json_objects(f, &v->conflicts[i], true);
		}
		fputc(']', f);
	}
	fputs(",\"stack\":[", f);
	for (i = 0; i < v->nr_stack; i++)
		fprintf(f, "%s\"0x%" PRIx64 "\"", i ? "," : "", (uint64_t)v->stack[i]);
	fputs("]}\n", f);
}

/* the systems whose events were not observed, for the coverage lines */
static const __u32 systems[] = {
	TSM_EV_PCI_TSM, TSM_EV_VFIO_DMABUF, TSM_EV_IOMMUFD, TSM_EV_KVM, TSM_EV_VFIO_PCI,
};

static void invs_with(FILE *f, const struct tsm_coverage *c, enum tsm_cov want, bool json)
{
	bool first = true;
	unsigned int i;

	for (i = TSM_I1; i < TSM_I_NR; i++) {
		if (c->inv[i] != want)
			continue;
		fprintf(f, json ? "%s\"%s\"" : "%s%s", first ? "" : json ? "," : " ",
			tsm_inv_id(i));
		first = false;
	}
	if (first && !json)
		fputs("none", f);
}

void print_coverage(FILE *f, __u32 observed, const char *indent)
{
	struct tsm_coverage c;
	unsigned int i, t;

	tsm_coverage(observed, &c);
	if (c.full)
		return;
	fprintf(f, "%scoverage: %u of %u events observed; not observed:", indent,
		c.nr_observed, c.nr_events);
	for (t = 1; t < TSM_REC_NR_EVENTS; t++)
		if (TSM_EV_ALL & ~c.observed & TSM_EV_BIT(t))
			fprintf(f, " %s", tsm_rec_name(t));
	fputc('\n', f);
	for (i = 0; i < sizeof(systems) / sizeof(systems[0]); i++) {
		if ((c.observed & systems[i]) == systems[i])
			continue;
		if (systems[i] == TSM_EV_IOMMUFD && (c.observed & TSM_EV_IOMMU) == TSM_EV_IOMMU)
			fprintf(f, "%s  IOAS mappings are seen at the IOMMU instead (iommu_map_dmabuf, iommu_unmap_dmabuf): mappings of private DMABUFs are not told apart\n",
				indent);
		else if (systems[i] == TSM_EV_KVM &&
			 (c.observed & TSM_EV_KVM_SPTE) == TSM_EV_KVM_SPTE)
			fprintf(f, "%s  KVM memslot mappings are seen as KVM's page-table entries instead (kvm_spte_map, kvm_spte_unmap): their revocation is checked, not which DMABUF or VM they belong to\n",
				indent);
		else
			fprintf(f, "%s  %s are unknown: nothing is concluded about them\n", indent,
				tsm_unobserved_what(systems[i]));
	}
	fprintf(f, "%s  checked: ", indent);
	invs_with(f, &c, TSM_COV_FULL, false);
	fputs("; checked only over what was observed: ", f);
	invs_with(f, &c, TSM_COV_PARTIAL, false);
	fputs("; not checked: ", f);
	invs_with(f, &c, TSM_COV_NONE, false);
	fputc('\n', f);
}

static void json_coverage(FILE *f, __u32 observed)
{
	struct tsm_coverage c;
	bool first = true;
	unsigned int t;

	tsm_coverage(observed, &c);
	fprintf(f, "\"coverage\":{\"full\":%s,\"observed\":%u,\"events\":%u,\"unobserved\":[",
		c.full ? "true" : "false", c.nr_observed, c.nr_events);
	for (t = 1; t < TSM_REC_NR_EVENTS; t++) {
		if (!(TSM_EV_ALL & ~c.observed & TSM_EV_BIT(t)))
			continue;
		fprintf(f, "%s\"%s\"", first ? "" : ",", tsm_rec_name(t));
		first = false;
	}
	fputs("],\"checked\":[", f);
	invs_with(f, &c, TSM_COV_FULL, true);
	fputs("],\"partial\":[", f);
	invs_with(f, &c, TSM_COV_PARTIAL, true);
	fputs("],\"unchecked\":[", f);
	invs_with(f, &c, TSM_COV_NONE, true);
	fputs("]}", f);
}

void print_not_kept(FILE *f, const struct tsm_summary *s, const char *indent)
{
	if (s->nr_violations > s->nr_violations_kept)
		fprintf(f, "%s... and %u more violation(s), counted but not kept: only the first %u are kept in full (--max-violations)\n",
			indent, s->nr_violations - s->nr_violations_kept, s->nr_violations_kept);
}

void engine_opts_of_file(const struct tsm_file *f, bool state_known, struct tsm_engine_opts *o)
{
	const struct tsm_file_header *h = &f->hdr;

	/* a trace.dat cannot say it: only the caller's promise can */
	o->state_known = tsm_file_tracedat(f) ? state_known : h->flags & TSM_FILE_F_STATE_KNOWN;
	/* a trace.dat carries no verdicts of the in-kernel check */
	o->kernel_checked = !(h->flags & TSM_FILE_F_SYNTHETIC) && !tsm_file_tracedat(f);
	o->observed = h->events_observed;
}

/*
 * Whether the in-kernel check, which judged every event as it happened,
 * and this engine agree: one line, for a trace that carries its verdicts
 */
void print_kernel_check(FILE *f, const struct tsm_summary *s, const char *indent)
{
	if (!s->kernel_checked)
		return;
	fprintf(f, "%sin-kernel check: %" PRIu64 " event(s) flagged; ", indent,
		(uint64_t)s->nr_flagged);
	if (!s->nr_disagree)
		fputs("the engine agrees on every event\n", f);
	else
		fprintf(f, "the engine judged %" PRIu64 " event(s) differently (see the notes)\n",
			(uint64_t)s->nr_disagree);
}

/* "incomplete":[...], the reasons of TSM_INC_* by name */
void json_incomplete(FILE *f, __u32 incomplete)
{
	static const char *const inc[] = {
		"lost", "truncated", "start_unknown", "inconsistent", "order",
		"unknown_record", "min_events", "coverage", "disagree" };
	bool first = true;
	unsigned int i;

	fputs("\"incomplete\":[", f);
	for (i = 0; i < sizeof(inc) / sizeof(inc[0]); i++) {
		if (!(incomplete & (1u << i)))
			continue;
		fprintf(f, "%s\"%s\"", first ? "" : ",", inc[i]);
		first = false;
	}
	fputc(']', f);
}

/*
 * The verdict as one JSON object; the same for live and check, so a
 * recorded file checked later gives the same line as live gave (apart from
 * "file", "kernel" and "host", which only a file has).
 */
void print_verdict_json(FILE *f, const char *file, const struct tsm_file_header *h,
			const struct tsm_engine *e, const struct tsm_summary *s)
{
	const char *note;
	unsigned int i;

	fputs("{\"type\":\"verdict\"", f);
	if (file) {
		fputs(",\"file\":", f);
		json_str(f, file);
	}
	fprintf(f, ",\"verdict\":\"%s\",\"violations\":%u,\"records\":%" PRIu64
		",\"events\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"doubts\":%u"
		",\"violations_kept\":%u,\"violations_not_kept\":%u,\"unknown_records\":%" PRIu64
		",\"kernel_checked\":%s,\"kernel_flagged\":%" PRIu64 ",\"kernel_disagree\":%" PRIu64 ",",
		tsm_verdict_name(s->verdict), s->nr_violations, (uint64_t)s->nr_records,
		(uint64_t)s->nr_events, (uint64_t)s->nr_lost, s->nr_doubts,
		s->nr_violations_kept, s->nr_violations - s->nr_violations_kept,
		(uint64_t)s->nr_unknown_type, s->kernel_checked ? "true" : "false",
		(uint64_t)s->nr_flagged, (uint64_t)s->nr_disagree);
	json_incomplete(f, s->incomplete);
	fputc(',', f);
	json_coverage(f, s->observed);
	if (h) {
		fputs(",\"kernel\":", f);
		json_str(f, h->kernel_release);
		fputs(",\"host\":", f);
		json_str(f, h->hostname);
	}
	fputs(",\"notes\":[", f);
	for (i = 0; (note = tsm_engine_note(e, i)); i++) {
		if (i)
			fputc(',', f);
		json_str(f, note);
	}
	fputs("]}\n", f);
}
