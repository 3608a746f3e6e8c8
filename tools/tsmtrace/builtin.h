/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __TSMTRACE_BUILTIN_H
#define __TSMTRACE_BUILTIN_H

#include <stdbool.h>
#include <stdio.h>
#include <tsmtrace/engine.h>

extern bool json_output;
extern const char *tsm_prog;

/* exit statuses of check, live and report */
#define EXIT_PASS	0
#define EXIT_VIOLATION	1
#define EXIT_INCOMPLETE	2
#define EXIT_UNUSABLE	3

int cmd_check(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_live(int argc, char **argv);

/* a whole number from @min to @max (decimal or 0x...); 0 or -EINVAL */
int parse_num(const char *s, unsigned long long min, unsigned long long max,
	      unsigned long long *v);

/*
 * An error, on standard error; with --json also an "error" object on
 * standard output (the last JSON line of the run, or of @file's check)
 */
__attribute__((format(printf, 2, 3)))
void p_err(const char *cmd, const char *fmt, ...);
__attribute__((format(printf, 3, 4)))
void p_err_file(const char *cmd, const char *file, const char *fmt, ...);
/* a usage error of @cmd: says why and where the help is; EXIT_UNUSABLE */
int p_usage(const char *cmd, const char *why);
__attribute__((format(printf, 2, 3)))
void p_warn(const char *cmd, const char *fmt, ...);

/* print.c */
void fmt_dev(char *buf, size_t len, __u64 dev);
int parse_dev(const char *s, __u32 *dev);
size_t fmt_record(char *buf, size_t len, const struct tsm_rec_hdr *rec);
void print_record_json(FILE *f, const struct tsm_rec_hdr *rec, const unsigned int *vn,
		       unsigned int nr_vn);
void print_violation(FILE *f, const struct tsm_violation *v, const char *indent);
void print_violation_json(FILE *f, const char *file, const struct tsm_violation *v);
void json_str(FILE *f, const char *s);
/* kernel symbols for printed stacks: a kallsyms or System.map file */
int ksyms_load(const char *path);
struct tsm_file_header;
void ksyms_auto(const struct tsm_file_header *h);
/* a symbol of the trace's SYMBOLS blocks (struct tsm_file.on_symbol) */
void ksyms_trace_symbol(void *arg, __u64 addr, const char *name);
/* the loaded symbol that holds @ip (struct tsm_meta.symbolize) */
int ksym_symbolize(__u64 ip, __u64 *start, char *name, size_t len);
/* after the stacks are printed: why frames were not named, or named by a guess */
const char *ksyms_explain(const struct tsm_file_header *h, char *buf, size_t len);
/* ksyms_explain() as a warning of @cmd */
void explain_symbols(const char *cmd, const struct tsm_file_header *h);
struct tsm_file_header;
/* the coverage lines, when some events were not observed */
void print_coverage(FILE *f, __u32 observed, const char *indent);
/* "N more violations not kept", when some were not */
void print_not_kept(FILE *f, const struct tsm_summary *s, const char *indent);
void json_incomplete(FILE *f, __u32 incomplete);
void print_kernel_check(FILE *f, const struct tsm_summary *s, const char *indent);
/*
 * what a trace file's header tells the engine that replays it; a trace.dat
 * says nothing of the state when it began: @state_known is the caller's
 * promise (--state-known)
 */
struct tsm_file;
void engine_opts_of_file(const struct tsm_file *f, bool state_known, struct tsm_engine_opts *o);
/*
 * a replay of @f ended with @st (OK or TRUNCATED): what the end tells the
 * engine (the events lost, or a file cut short) and @cmd's warnings of it
 */
void engine_end_of_file(struct tsm_engine *e, const struct tsm_file *f, int st, const char *cmd);
void print_verdict_json(FILE *f, const char *file, const struct tsm_file_header *h,
			const struct tsm_engine *e, const struct tsm_summary *s);

#endif
