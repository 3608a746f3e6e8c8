// SPDX-License-Identifier: GPL-2.0
/* Human and JSON Lines output of records and violations. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <tsmtrace/trace-file.h>
#include "builtin.h"
#include "util.h"

void fmt_dev(char *buf, size_t len, __u32 dev)
{
	snprintf(buf, len, "%04x:%02x:%02x.%x", dev >> 16, (dev >> 8) & 0xff,
		 (dev >> 3) & 0x1f, dev & 7);
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
	"BIND", "UNBIND", "TDI_ERROR", "RESET", "MEM_DISABLE", "CLOSE", "D3" };
static const char *const unmap_names[] = { "USER", "REVOKE", "DESTROY" };
static const char *const lost_names[] = { "RINGBUF", "MAP_FULL", "READER" };

#define SYM(v, n) sym(v, n, ARRAY_SIZE(n))

/* the event's fields as key=value */
static void fmt_fields(char *b, size_t len, const struct tsm_rec_hdr *rec)
{
	char dev[16];

	*b = 0;
	switch (rec->type) {
	case TSM_REC_PCI_TSM_BIND_BEGIN:
	case TSM_REC_PCI_TSM_BIND_END:
	case TSM_REC_PCI_TSM_UNBIND_BEGIN:
	case TSM_REC_PCI_TSM_UNBIND_END: {
		const struct tsm_ev_pci_tsm_op *e = (const void *)rec;
		bool unbind = rec->type >= TSM_REC_PCI_TSM_UNBIND_BEGIN;

		fmt_dev(dev, sizeof(dev), e->dev);
		snprintf(b, len, "dev=%s tdi_id=%u vm=0x%" PRIx64 " reason=%s ret=%d", dev,
			 e->tdi_id, (uint64_t)e->vm,
			 unbind ? SYM(e->reason, unbind_names) : "0", e->ret);
		break;
	}
	case TSM_REC_PCI_TSM_TDI_STATE: {
		const struct tsm_ev_pci_tsm_tdi_state *e = (const void *)rec;

		fmt_dev(dev, sizeof(dev), e->dev);
		snprintf(b, len, "dev=%s tdi_id=%u %s->%s", dev, e->tdi_id,
			 SYM(e->old_state, tdi_names), SYM(e->new_state, tdi_names));
		break;
	}
	case TSM_REC_PCI_TSM_RANGE: {
		const struct tsm_ev_pci_tsm_range *e = (const void *)rec;

		fmt_dev(dev, sizeof(dev), e->dev);
		snprintf(b, len, "dev=%s bar=%u pfn=0x%" PRIx64 " npfns=0x%" PRIx64 " %s->%s",
			 dev, e->bar, (uint64_t)e->pfn, (uint64_t)e->npfns,
			 SYM(e->old_attr, attr_names), SYM(e->new_attr, attr_names));
		break;
	}
	case TSM_REC_VFIO_DMABUF_EXPORT_RANGE: {
		const struct tsm_ev_vfio_dmabuf_range *e = (const void *)rec;

		fmt_dev(dev, sizeof(dev), e->dev);
		snprintf(b, len, "buf=%" PRIu64 " dev=%s bar=%u kind=%s pfn=0x%" PRIx64 " npfns=0x%" PRIx64,
			 (uint64_t)e->buf, dev, e->bar, SYM(e->kind, kind_names),
			 (uint64_t)e->pfn, (uint64_t)e->npfns);
		break;
	}
	case TSM_REC_VFIO_DMABUF_EXPORT:
	case TSM_REC_VFIO_DMABUF_REVOKE:
	case TSM_REC_VFIO_DMABUF_RELEASE: {
		const struct tsm_ev_vfio_dmabuf_obj *e = (const void *)rec;
		char arg[32];

		fmt_dev(dev, sizeof(dev), e->dev);
		if (rec->type == TSM_REC_VFIO_DMABUF_EXPORT)
			snprintf(arg, sizeof(arg), " nr_ranges=%u", e->arg);
		else if (rec->type == TSM_REC_VFIO_DMABUF_REVOKE)
			snprintf(arg, sizeof(arg), " reason=%s", SYM(e->arg, revoke_names));
		else
			arg[0] = 0;
		snprintf(b, len, "buf=%" PRIu64 " dev=%s bar=%u kind=%s%s", (uint64_t)e->buf,
			 dev, e->bar, SYM(e->kind, kind_names), arg);
		break;
	}
	case TSM_REC_IOMMUFD_IOAS_MAP_DMABUF:
	case TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF: {
		const struct tsm_ev_iommufd_ioas_dmabuf *e = (const void *)rec;
		bool map = rec->type == TSM_REC_IOMMUFD_IOAS_MAP_DMABUF;

		snprintf(b, len, "ctx=0x%" PRIx64 " ioas=%u iova=0x%" PRIx64 " buf=%" PRIu64
			 " pfn=0x%" PRIx64 " npfns=0x%" PRIx64 " %s=%s",
			 (uint64_t)e->ctx, e->ioas, (uint64_t)e->iova, (uint64_t)e->buf,
			 (uint64_t)e->pfn, (uint64_t)e->npfns, map ? "kind" : "reason",
			 map ? SYM(e->arg, kind_names) : SYM(e->arg, unmap_names));
		break;
	}
	case TSM_REC_KVM_DMABUF_SLOT_BIND:
	case TSM_REC_KVM_DMABUF_SLOT_UNBIND: {
		const struct tsm_ev_kvm_dmabuf_slot *e = (const void *)rec;
		bool bind = rec->type == TSM_REC_KVM_DMABUF_SLOT_BIND;
		char arg[32];

		if (bind)
			snprintf(arg, sizeof(arg), "private=%u", e->arg);
		else
			snprintf(arg, sizeof(arg), "reason=%s", SYM(e->arg, unmap_names));
		snprintf(b, len, "vm=0x%" PRIx64 " slot=0x%x gfn=0x%" PRIx64 " buf=%" PRIu64
			 " pfn=0x%" PRIx64 " npfns=0x%" PRIx64 " %s",
			 (uint64_t)e->vm, e->slot, (uint64_t)e->gfn, (uint64_t)e->buf,
			 (uint64_t)e->pfn, (uint64_t)e->npfns, arg);
		break;
	}
	case TSM_REC_LOST: {
		const struct tsm_rec_lost *e = (const void *)rec;

		snprintf(b, len, "nr=%" PRIu64 " source=%s", (uint64_t)e->nr,
			 SYM(e->source, lost_names));
		break;
	}
	case TSM_REC_STACK: {
		const struct tsm_rec_stack *e = (const void *)rec;

		snprintf(b, len, "event_seq=%" PRIu64 " frames=%u", (uint64_t)e->event_seq, e->nr);
		break;
	}
	default:
		snprintf(b, len, "type=%u size=%u", rec->type, rec->size);
		break;
	}
}

void fmt_record(char *buf, size_t len, const struct tsm_rec_hdr *rec)
{
	char f[256];

	fmt_fields(f, sizeof(f), rec);
	snprintf(buf, len, "seq %-6" PRIu64 " %5" PRIu64 ".%09" PRIu64 " cpu %-2u pid %-6u %s %s",
		 (uint64_t)rec->seq, (uint64_t)(rec->ts / 1000000000ULL),
		 (uint64_t)(rec->ts % 1000000000ULL), rec->cpu, rec->pid,
		 tsm_rec_name(rec->type), f);
}

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void print_record_json(FILE *f, const struct tsm_rec_hdr *rec, const unsigned int *vn,
		       unsigned int nr_vn)
{
	char fields[256], *p, *tok, *save = NULL;
	unsigned int i;

	fprintf(f, "{\"type\":\"event\",\"seq\":%" PRIu64 ",\"ts\":%" PRIu64
		",\"cpu\":%u,\"pid\":%u,\"event\":\"%s\"",
		(uint64_t)rec->seq, (uint64_t)rec->ts, rec->cpu, rec->pid,
		tsm_rec_name(rec->type));
	/* the key=value fields, as strings, so nothing is lost to float precision */
	fmt_fields(fields, sizeof(fields), rec);
	for (p = fields; (tok = strtok_r(p, " ", &save)); p = NULL) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			fputs(",\"transition\":", f);
			json_str(f, tok);
			continue;
		}
		*eq = 0;
		fputc(',', f);
		json_str(f, tok);
		fputc(':', f);
		json_str(f, eq + 1);
	}
	if (nr_vn) {
		fputs(",\"violations\":[", f);
		for (i = 0; i < nr_vn; i++)
			fprintf(f, "%s%u", i ? "," : "", vn[i]);
		fputc(']', f);
	}
	fputs("}\n", f);
}

static void fmt_objects(char *b, size_t len, const struct tsm_objects *o)
{
	char dev[16];
	int n = 0;

	b[0] = 0;
#define ADD(...) do { if (n < (int)len) n += snprintf(b + n, len - n, __VA_ARGS__); } while (0)
	if (o->valid & TSM_OBJ_DEV) {
		fmt_dev(dev, sizeof(dev), o->dev);
		ADD("dev=%s ", dev);
	}
	if (o->valid & TSM_OBJ_BUF)
		ADD("buf=%" PRIu64 " ", (uint64_t)o->buf);
	if (o->valid & TSM_OBJ_IOAS)
		ADD("ctx=0x%" PRIx64 " ioas=%u iova=0x%" PRIx64 " ", (uint64_t)o->ctx, o->ioas,
		    (uint64_t)o->iova);
	if (o->valid & TSM_OBJ_VM)
		ADD("vm=0x%" PRIx64 " ", (uint64_t)o->vm);
	if (o->valid & TSM_OBJ_SLOT)
		ADD("slot=0x%x ", o->slot);
	if (o->valid & TSM_OBJ_RANGE)
		ADD("pfn=0x%" PRIx64 " npfns=0x%" PRIx64 " ", (uint64_t)o->pfn, (uint64_t)o->npfns);
#undef ADD
	if (n > 0 && n <= (int)len && b[n - 1] == ' ')
		b[n - 1] = 0;
}

/* ---- kernel symbols for the stacks (kallsyms or System.map format) ---- */

struct ksym {
	__u64 addr;
	char *name;
};

static struct ksym *ksyms;
static size_t nr_ksyms;

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int ksyms_load(const char *path)
{
	char line[512], name[256];
	size_t cap = 0;
	unsigned long long a;
	FILE *in;
	char t;

	if (nr_ksyms)
		return 0;
	in = fopen(path, "r");
	if (!in)
		return -1;
	while (fgets(line, sizeof(line), in)) {
		struct ksym *n;

		if (sscanf(line, "%llx %c %255s", &a, &t, name) != 3 || !a)
			continue;	/* zeros: kallsyms hides addresses from us */
		if (t != 't' && t != 'T')
			continue;
		if (nr_ksyms == cap) {
			cap = cap ? cap * 2 : 4096;
			n = realloc(ksyms, cap * sizeof(*n));
			if (!n)
				break;
			ksyms = n;
		}
		ksyms[nr_ksyms].addr = a;
		ksyms[nr_ksyms].name = strdup(name);
		if (ksyms[nr_ksyms].name)
			nr_ksyms++;
	}
	fclose(in);
	qsort(ksyms, nr_ksyms, sizeof(*ksyms), ksym_cmp);
	return nr_ksyms ? 0 : -1;
}

/* symbols of the running kernel, when it is the one a trace was recorded on */
void ksyms_auto(const char *kernel_release)
{
	struct utsname u;

	if (!nr_ksyms && !uname(&u) && !strcmp(u.release, kernel_release))
		ksyms_load("/proc/kallsyms");
}

static const struct ksym *ksym_find(__u64 addr)
{
	size_t lo = 0, hi = nr_ksyms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ksyms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &ksyms[lo - 1] : NULL;
}

void print_violation(FILE *f, const struct tsm_violation *v, const char *indent)
{
	const struct tsm_rule_desc *r = &tsm_rules[v->rule];
	char line[512], objs[256];
	unsigned int i;

	fmt_record(line, sizeof(line), &v->ev.hdr);
	fprintf(f, "%s#%u %s (%s): event %s not expected in state %s\n", indent, v->n,
		tsm_inv_id(r->inv), tsm_inv_title(r->inv), tsm_rec_name(v->ev.hdr.type), r->state);
	fprintf(f, "%s    %s\n", indent, r->what);
	fprintf(f, "%s    at %s\n", indent, line);
	if (v->nr_other) {
		fmt_objects(objs, sizeof(objs), &v->other);
		fprintf(f, "%s    in conflict with: %s", indent, objs);
		if (v->nr_other > 1)
			fprintf(f, " (and %u more)", v->nr_other - 1);
		fputc('\n', f);
	}
	if (!v->nr_stack) {
		fprintf(f, "%s    stack: not captured\n", indent);
		return;
	}
	fprintf(f, "%s    stack:\n", indent);
	for (i = 0; i < v->nr_stack; i++) {
		const struct ksym *k = ksym_find(v->stack[i]);

		fprintf(f, "%s      0x%016" PRIx64, indent, (uint64_t)v->stack[i]);
		/* past the kernel's last symbol, a module or a BPF program */
		if (k && v->stack[i] - k->addr < (1u << 20))
			fprintf(f, " %s+0x%" PRIx64, k->name, (uint64_t)(v->stack[i] - k->addr));
		fputc('\n', f);
	}
}

static void json_objects(FILE *f, const struct tsm_objects *o)
{
	char dev[16];
	bool first = true;

#define SEP() do { if (!first) fputc(',', f); first = false; } while (0)
	fputc('{', f);
	if (o->valid & TSM_OBJ_DEV) {
		fmt_dev(dev, sizeof(dev), o->dev);
		SEP();
		fprintf(f, "\"dev\":\"%s\"", dev);
	}
	if (o->valid & TSM_OBJ_BUF) {
		SEP();
		fprintf(f, "\"buf\":%" PRIu64, (uint64_t)o->buf);
	}
	if (o->valid & TSM_OBJ_IOAS) {
		SEP();
		fprintf(f, "\"ctx\":\"0x%" PRIx64 "\",\"ioas\":%u,\"iova\":\"0x%" PRIx64 "\"",
			(uint64_t)o->ctx, o->ioas, (uint64_t)o->iova);
	}
	if (o->valid & TSM_OBJ_VM) {
		SEP();
		fprintf(f, "\"vm\":\"0x%" PRIx64 "\"", (uint64_t)o->vm);
	}
	if (o->valid & TSM_OBJ_SLOT) {
		SEP();
		fprintf(f, "\"slot\":%u", o->slot);
	}
	if (o->valid & TSM_OBJ_RANGE) {
		SEP();
		fprintf(f, "\"pfn\":\"0x%" PRIx64 "\",\"npfns\":\"0x%" PRIx64 "\"",
			(uint64_t)o->pfn, (uint64_t)o->npfns);
	}
	fputc('}', f);
#undef SEP
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
	json_objects(f, &v->obj);
	fputs(",\"conflict\":", f);
	json_objects(f, &v->other);
	fprintf(f, ",\"conflicts\":%u,\"stack\":[", v->nr_other);
	for (i = 0; i < v->nr_stack; i++)
		fprintf(f, "%s\"0x%" PRIx64 "\"", i ? "," : "", (uint64_t)v->stack[i]);
	fputs("]}\n", f);
}

/* the systems whose events were not observed, for the coverage lines */
static const __u32 systems[] = {
	TSM_EV_PCI_TSM, TSM_EV_VFIO_DMABUF, TSM_EV_IOMMUFD, TSM_EV_KVM,
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
		if (!(c.observed & TSM_EV_BIT(t)))
			fprintf(f, " %s", tsm_rec_name(t));
	fputc('\n', f);
	for (i = 0; i < sizeof(systems) / sizeof(systems[0]); i++)
		if ((c.observed & systems[i]) != systems[i])
			fprintf(f, "%s  %s are unknown: nothing is concluded about them\n", indent,
				tsm_unobserved_what(systems[i]));
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
		if (c.observed & TSM_EV_BIT(t))
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

/*
 * The verdict as one JSON object; the same for live and check, so a
 * recorded file checked later gives the same line as live gave (apart from
 * "file", "kernel" and "host", which only a file has).
 */
void print_verdict_json(FILE *f, const char *file, const struct tsm_file_header *h,
			const struct tsm_engine *e, const struct tsm_summary *s)
{
	static const char *const inc[] = {
		"lost", "truncated", "start_unknown", "inconsistent", "order" };
	const char *note;
	unsigned int i;
	bool first = true;

	fputs("{\"type\":\"verdict\"", f);
	if (file) {
		fputs(",\"file\":", f);
		json_str(f, file);
	}
	fprintf(f, ",\"verdict\":\"%s\",\"violations\":%u,\"records\":%" PRIu64
		",\"events\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"doubts\":%u,\"incomplete\":[",
		tsm_verdict_name(s->verdict), s->nr_violations, (uint64_t)s->nr_records,
		(uint64_t)s->nr_events, (uint64_t)s->nr_lost, s->nr_doubts);
	for (i = 0; i < sizeof(inc) / sizeof(inc[0]); i++) {
		if (!(s->incomplete & (1u << i)))
			continue;
		fprintf(f, "%s\"%s\"", first ? "" : ",", inc[i]);
		first = false;
	}
	fputs("],", f);
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
