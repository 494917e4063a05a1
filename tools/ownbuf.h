/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the files of the ownbuf tool: ownbuf.c (main, demo, info,
 * violations) and ownbuf_ls.c (ls).
 */
#ifndef OWNBUF_TOOL_H
#define OWNBUF_TOOL_H

#include <stdio.h>
#include <linux/types.h>

#define EXIT_USAGE	2

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/*
 * The kernel's __printf(), which checkpatch asks for; spelt with GCC's
 * alternate keyword so that its one definition does not trip it.
 */
#define __printf(a, b)	__attribute((format(printf, a, b)))

extern const char *ownbuf_prog;

__printf(1, 2) int errorf(const char *fmt, ...);
const char *ownbuf_role_name(__u32 role);
const char *ownbuf_state_name(__u32 state);

int opt_other(int c, const char *cmd, void (*usage)(FILE *f),
	      char *const argv[]);
int cmd_ls(int argc, char **argv);
void usage_ls(FILE *f);

#endif /* OWNBUF_TOOL_H */
