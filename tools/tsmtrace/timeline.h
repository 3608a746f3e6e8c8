/* SPDX-License-Identifier: GPL-2.0 */
/* report --format=perfetto|svg: the trace as a timeline (timeline.c) */
#ifndef __TSMTRACE_TIMELINE_H
#define __TSMTRACE_TIMELINE_H

#include <stdio.h>
#include <tsmtrace/engine.h>
#include "tracefile.h"

enum timeline_format {
	TIMELINE_PERFETTO,	/* Chrome trace-event JSON (Perfetto UI, chrome://tracing) */
	TIMELINE_SVG,		/* an SVG, a row per lane */
};

/*
 * Replay @f through @e and write its timeline to @out. Returns 0, or
 * EXIT_UNUSABLE after saying why.
 */
int timeline_write(FILE *out, struct tsm_file *f, const char *path, struct tsm_engine *e,
		   enum timeline_format fmt);

#endif
