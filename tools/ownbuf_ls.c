// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf ls - who holds which buffer, borrow and file descriptor
 *
 * Two sources, joined by buffer id:
 *  - /sys/kernel/debug/ownbuf/buffers (root): every live buffer, who
 *    created it, who holds its owner, and every borrow with its age and
 *    the task that took it (or the in-kernel caller);
 *  - /proc/PID/fd and /proc/PID/fdinfo: every ownbuf fd of every process
 *    we may look at, with the buffer id, role and state the module puts
 *    in fdinfo, and for a borrow who took it and when.
 * An fd moves by fork() and SCM_RIGHTS; the task that took a borrow does
 * not: so each fd is shown with the process that holds it now, and each
 * borrow of the debugfs file with the fds that hold it (matched by the
 * task that took it and its age).  A borrow no fd holds is in flight in
 * a unix socket, only mapped, or a kernel caller's.
 */

#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/ownbuf.h>

#include "ownbuf.h"

#define OWNBUF_DEBUGFS	"/sys/kernel/debug/ownbuf/buffers"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* Two ages of one borrow, read a moment apart, agree within this. */
#define LS_AGE_SLACK_MS	2000

/* A line of the debugfs file: who created, holds or borrowed a buffer. */
struct ls_who {
	char label[16];		/* created, owner, shared, mut */
	unsigned int age_ms;
	char by[192];		/* "pid 1 (comm)", "userspace" or a %pS */
	int pid;		/* 0: a kernel caller without a task */
	char comm[64];
	int user;		/* taken from userspace */
	int mapped;
	int moves;		/* owner: -1 its creator, else moves */
	int file;		/* borrow: the ls_fd.file it matched, or -1 */
};

struct ls_fd {
	int pid;
	char comm[64];
	int fd;
	unsigned long long id;
	char role[8];		/* owner, shared, mut */
	char state[12];		/* live, dropped, ... */
	char link[96];
	unsigned long ino;
	int mapped;		/* -1: not a borrow */
	int taker_pid;		/* 0: unknown */
	char taker_comm[64];
	unsigned int age_ms;
	int file;		/* fds of one open file share this */
};

struct ls_buf {
	unsigned long long id;
	unsigned long long size;
	int known;		/* listed in the debugfs file */
	char in_flight[96];
	struct ls_who created, owner;
	struct ls_who *borrows;
	int nborrows;
};

struct ls {
	struct ls_buf *bufs;
	int nbufs;
	struct ls_fd *fds;
	int nfds;
	int debugfs;		/* the debugfs file could be read */
	int files;
};

static void *ls_grow(void *p, int n, size_t size)
{
	p = realloc(p, (n + 1) * size);
	if (!p) {
		errorf("out of memory");
		exit(EXIT_FAILURE);
	}
	memset((char *)p + n * size, 0, size);
	return p;
}

static struct ls_buf *ls_buf(struct ls *ls, unsigned long long id)
{
	struct ls_buf *b;
	int i;

	for (i = 0; i < ls->nbufs; i++)
		if (ls->bufs[i].id == id)
			return &ls->bufs[i];
	ls->bufs = ls_grow(ls->bufs, ls->nbufs, sizeof(*b));
	b = &ls->bufs[ls->nbufs++];
	b->id = id;
	return b;
}

/* "pid 1 (comm)", "userspace", "f+0x1/0x2 [m]" or "f+0x1/0x2 (pid 1, c)" */
static void ls_parse_by(struct ls_who *w)
{
	const char *p;
	char *end;

	w->user = !strncmp(w->by, "pid ", 4) || !strcmp(w->by, "userspace");
	p = strstr(w->by, "pid ");
	if (!p)
		return;
	w->pid = (int)strtol(p + 4, &end, 10);
	if (*end == ' ' && end[1] == '(') {
		snprintf(w->comm, sizeof(w->comm), "%s", end + 2);
		end = strrchr(w->comm, ')');
		if (end)
			*end = '\0';
	} else if (*end == ',' && end[1] == ' ') {
		snprintf(w->comm, sizeof(w->comm), "%s", end + 2);
		end = strrchr(w->comm, ')');
		if (end)
			*end = '\0';
	}
}

/* Cut a ", suffix" off @s if it ends with it: 1 if it did. */
static int ls_cut(char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	if (n < k || strcmp(s + n - k, suffix))
		return 0;
	s[n - k] = '\0';
	return 1;
}

static int ls_read_debugfs(struct ls *ls)
{
	char line[512], rest[256], label[16];
	unsigned int sec, ms;
	struct ls_buf *b = NULL;
	unsigned long long id, size;
	struct ls_who *w;
	FILE *f;
	char *p;

	f = fopen(OWNBUF_DEBUGFS, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "buffer %llu  size %llu  in flight: %95[^\n]",
			   &id, &size, rest) == 3) {
			b = ls_buf(ls, id);
			b->known = 1;
			b->size = size;
			snprintf(b->in_flight, sizeof(b->in_flight), "%s", rest);
			continue;
		}
		if (!b || sscanf(line, "  %15s %u.%u s ago  %255[^\n]", label,
				 &sec, &ms, rest) != 4)
			continue;
		if (!strcmp(label, "created")) {
			w = &b->created;
		} else if (!strcmp(label, "owner")) {
			w = &b->owner;
		} else {
			b->borrows = ls_grow(b->borrows, b->nborrows,
					     sizeof(*w));
			w = &b->borrows[b->nborrows++];
		}
		snprintf(w->label, sizeof(w->label), "%s", label);
		w->age_ms = sec * 1000 + ms;
		w->file = -1;
		w->moves = -1;
		w->mapped = ls_cut(rest, ", mapped");
		if (!ls_cut(rest, ", its creator")) {
			p = strstr(rest, ", after ");
			if (p) {
				w->moves = atoi(p + 8);
				*p = '\0';
			}
		}
		snprintf(w->by, sizeof(w->by), "%s", rest);
		ls_parse_by(w);
	}
	fclose(f);
	return 0;
}

/* The first line of @path, without its newline; "" if unreadable. */
static void ls_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* An fd of a module without fdinfo: duplicate it and ask INFO. */
static int ls_info_by_dup(struct ls_fd *d)
{
	struct ownbuf_info info = { 0 };
	int pidfd, fd, ret = -1;
	const char *s;

	pidfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
	if (pidfd < 0)
		return -1;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, d->fd, 0);
	close(pidfd);
	if (fd < 0)
		return -1;
	if (!ioctl(fd, OWNBUF_IOC_INFO, &info) && ownbuf_role_name(info.role)) {
		d->id = info.id;
		snprintf(d->role, sizeof(d->role), "%s",
			 info.role == OWNBUF_ROLE_OWNER ? "owner" :
			 info.role == OWNBUF_ROLE_SHARED ? "shared" : "mut");
		s = ownbuf_state_name(info.state);
		snprintf(d->state, sizeof(d->state), "%s", s ? s : "?");
		for (ret = 0; d->state[ret]; ret++)
			d->state[ret] = (char)tolower(d->state[ret]);
		ret = 0;
	}
	close(fd);
	return ret;
}

/* fd @fd of process @pid, if it is an ownbuf fd: 0, else -1. */
static int ls_read_fd(struct ls_fd *d)
{
	char path[64], line[256];
	int have_id = 0;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", d->pid, d->fd);
	n = readlink(path, d->link, sizeof(d->link) - 1);
	if (n <= 0)
		return -1;
	d->link[n] = '\0';
	if (strcmp(d->link, "/dev/ownbuf") && !strstr(d->link, "ownbuf:["))
		return -1;
	d->mapped = -1;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", d->pid, d->fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "ownbuf-id: %llu", &d->id) == 1)
			have_id = 1;
		else if (sscanf(line, "ino: %lu", &d->ino) == 1)
			continue;
		else if (sscanf(line, "ownbuf-role: %7s", d->role) == 1)
			continue;
		else if (sscanf(line, "ownbuf-state: %11s", d->state) == 1)
			continue;
		else if (sscanf(line, "ownbuf-mapped: %d", &d->mapped) == 1)
			continue;
		else if (sscanf(line, "ownbuf-taken-by: %d %63[^\n]",
				&d->taker_pid, d->taker_comm) == 2)
			continue;
		else if (sscanf(line, "ownbuf-age-ms: %u", &d->age_ms) != 1)
			continue;
	}
	fclose(f);
	if (!have_id)
		return ls_info_by_dup(d);
	return 0;
}

/* Every ownbuf fd of every process we may look at. */
static void ls_read_fds(struct ls *ls)
{
	char path[64], comm[64];
	struct dirent *p, *e;
	DIR *proc, *dir;
	struct ls_fd d;
	int pid, i;

	proc = opendir("/proc");
	if (!proc)
		return;
	while ((p = readdir(proc))) {
		pid = atoi(p->d_name);
		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		dir = opendir(path);
		if (!dir)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		ls_read_line(path, comm, sizeof(comm));
		while ((e = readdir(dir))) {
			if (!isdigit((unsigned char)e->d_name[0]))
				continue;
			memset(&d, 0, sizeof(d));
			d.pid = pid;
			d.fd = atoi(e->d_name);
			snprintf(d.comm, sizeof(d.comm), "%s", comm);
			if (ls_read_fd(&d))
				continue;
			/* A borrow or a moved owner: one file per inode. */
			d.file = ls->files;
			for (i = 0; i < ls->nfds; i++)
				if (strcmp(d.link, "/dev/ownbuf") && d.ino &&
				    ls->fds[i].ino == d.ino &&
				    ls->fds[i].id == d.id) {
					d.file = ls->fds[i].file;
					break;
				}
			if (d.file == ls->files)
				ls->files++;
			ls->fds = ls_grow(ls->fds, ls->nfds, sizeof(d));
			ls->fds[ls->nfds++] = d;
			ls_buf(ls, d.id);
		}
		closedir(dir);
	}
	closedir(proc);
}

static unsigned int ls_diff(unsigned int a, unsigned int b)
{
	return a > b ? a - b : b - a;
}

/* May borrow @w of buffer @b be held by the open file of fd @d? */
static int ls_may_hold(const struct ls_buf *b, const struct ls_who *w,
		       const struct ls_fd *d)
{
	int i;

	if (d->id != b->id || strcmp(d->role, w->label) ||
	    strcmp(d->state, "live") || d->taker_pid != w->pid ||
	    ls_diff(d->age_ms, w->age_ms) > LS_AGE_SLACK_MS)
		return 0;
	for (i = 0; i < b->nborrows; i++)
		if (b->borrows[i].file == d->file)
			return 0;
	return 1;
}

/*
 * Match each userspace borrow of the debugfs file with the open file that
 * holds it: same buffer and kind, taken by the same task, and of the two
 * ages (read a moment apart) the closest pair first.
 */
static void ls_join(struct ls *ls)
{
	struct ls_who *w, *best_w;
	struct ls_fd *d, *best_d;
	unsigned int diff, best;
	struct ls_buf *b;
	int i, j, k;

	for (i = 0; i < ls->nbufs; i++) {
		b = &ls->bufs[i];
		for (;;) {
			best_w = NULL;
			best_d = NULL;
			best = ~0U;
			for (j = 0; j < b->nborrows; j++) {
				w = &b->borrows[j];
				if (!w->user || w->file >= 0)
					continue;
				for (k = 0; k < ls->nfds; k++) {
					d = &ls->fds[k];
					if (!ls_may_hold(b, w, d))
						continue;
					diff = ls_diff(d->age_ms, w->age_ms);
					if (diff < best) {
						best = diff;
						best_w = w;
						best_d = d;
					}
				}
			}
			if (!best_w)
				break;
			best_w->file = best_d->file;
		}
	}
}

static int ls_cmp_buf(const void *a, const void *b)
{
	const struct ls_buf *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* --- text --- */

static void ls_age(char *buf, size_t len, unsigned int ms)
{
	snprintf(buf, len, "%u.%03u s", ms / 1000, ms % 1000);
}

static void ls_print_buf(struct ls *ls, struct ls_buf *b)
{
	char file[32], mapped[8], age[24], by[96];
	struct ls_who *w;
	struct ls_fd *d;
	int i, j;

	if (b->known)
		printf("buffer %llu: %llu bytes, in flight: %s\n", b->id,
		       b->size, b->in_flight);
	else
		printf("buffer %llu: no longer live%s\n", b->id,
		       ls->debugfs ? "" : " or not known (no debugfs)");
	if (b->known) {
		ls_age(age, sizeof(age), b->created.age_ms);
		printf("  created %s ago by %s\n", age, b->created.by);
		ls_age(age, sizeof(age), b->owner.age_ms);
		printf("  owner   held since %s ago by %s", age, b->owner.by);
		if (b->owner.moves > 0)
			printf(", after %d move%s", b->owner.moves,
			       b->owner.moves == 1 ? "" : "s");
		printf("\n");
	}
	printf("  %-7s %-9s %7s %-16s %4s %-19s %-6s %11s  %s\n", "ROLE",
	       "STATE", "PID", "COMM", "FD", "FILE", "MAPPED", "AGE",
	       "TAKEN BY");
	for (i = 0; i < ls->nfds; i++) {
		d = &ls->fds[i];
		if (d->id != b->id)
			continue;
		snprintf(file, sizeof(file), "%s", d->link);
		if (d->ino && strcmp(d->link, "/dev/ownbuf"))
			snprintf(file, sizeof(file), "ino %lu", d->ino);
		snprintf(mapped, sizeof(mapped), "%s",
			 d->mapped < 0 ? "-" : d->mapped ? "yes" : "no");
		age[0] = '\0';
		by[0] = '\0';
		if (d->taker_pid) {
			ls_age(age, sizeof(age), d->age_ms);
			snprintf(by, sizeof(by), "pid %d (%s)", d->taker_pid,
				 d->taker_comm);
		} else if (!strcmp(d->role, "owner") &&
			   !strcmp(d->state, "live") && b->known) {
			ls_age(age, sizeof(age), b->owner.age_ms);
			snprintf(by, sizeof(by), "%s", b->owner.by);
		}
		printf("  %-7s %-9s %7d %-16s %4d %-19s %-6s %11s  %s\n",
		       d->role, d->state, d->pid, d->comm, d->fd, file, mapped,
		       age, by);
	}
	for (j = 0; j < b->nborrows; j++) {
		w = &b->borrows[j];
		if (w->file >= 0)
			continue;
		ls_age(age, sizeof(age), w->age_ms);
		printf("  %-7s %-9s %7s %-16s %4s %-19s %-6s %11s  %s\n",
		       w->label, "live", "-", "-", "-",
		       w->user ? "(no fd: in flight?)" : "(kernel)",
		       w->user ? (w->mapped ? "yes" : "no") : "-", age, w->by);
	}
}

/* --- JSON --- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_who(const char *key, const struct ls_who *w)
{
	printf("\"%s\": {\"age_ms\": %u, \"by\": ", key, w->age_ms);
	json_str(w->by);
	printf(", \"pid\": %d, \"comm\": ", w->pid);
	json_str(w->comm);
	printf(", \"userspace\": %s", w->user ? "true" : "false");
	if (w->moves >= 0)
		printf(", \"moves\": %d", w->moves);
	printf("}");
}

static void json_fd(const struct ls_fd *d)
{
	printf("{\"pid\": %d, \"comm\": ", d->pid);
	json_str(d->comm);
	printf(", \"fd\": %d, \"role\": \"%s\", \"state\": \"%s\", \"file\": ",
	       d->fd, d->role, d->state);
	json_str(d->link);
	printf(", \"ino\": %lu", d->ino);
	if (d->mapped >= 0)
		printf(", \"mapped\": %s", d->mapped ? "true" : "false");
	if (d->taker_pid) {
		printf(", \"age_ms\": %u, \"taken_by\": {\"pid\": %d, \"comm\": ",
		       d->age_ms, d->taker_pid);
		json_str(d->taker_comm);
		printf("}");
	}
	printf("}");
}

static void json_buf(struct ls *ls, struct ls_buf *b)
{
	const char *sep = "";
	struct ls_who *w;
	int i, j;

	printf("    {\"id\": %llu, \"live\": %s", b->id,
	       b->known ? "true" : "false");
	if (b->known) {
		printf(", \"size\": %llu, \"in_flight\": ", b->size);
		json_str(b->in_flight);
		printf(",\n     ");
		json_who("created", &b->created);
		printf(",\n     ");
		json_who("owner", &b->owner);
	}
	printf(",\n     \"fds\": [");
	for (i = 0; i < ls->nfds; i++) {
		if (ls->fds[i].id != b->id)
			continue;
		printf("%s\n       ", sep);
		json_fd(&ls->fds[i]);
		sep = ",";
	}
	printf("],\n     \"borrows\": [");
	for (j = 0, sep = ""; j < b->nborrows; j++) {
		w = &b->borrows[j];
		printf("%s\n       {\"kind\": \"%s\", \"mapped\": %s, ", sep,
		       w->label, w->mapped ? "true" : "false");
		json_who("taken", w);
		printf(", \"held_by\": [");
		for (i = 0, sep = ""; w->file >= 0 && i < ls->nfds; i++) {
			if (ls->fds[i].file != w->file)
				continue;
			printf("%s{\"pid\": %d, \"fd\": %d}", sep,
			       ls->fds[i].pid, ls->fds[i].fd);
			sep = ", ";
		}
		printf("]}");
		sep = ",";
	}
	printf("]}");
}

/* --- the command --- */

void usage_ls(FILE *f)
{
	fprintf(f,
		"usage: %s ls [--id N] [--json]\n"
		"\n"
		"Who holds which ownbuf buffer: every live buffer with who created\n"
		"it and who holds its owner, every owner and borrow fd of every\n"
		"process with the pid, name and fd number that hold it now, and\n"
		"every borrow with its age and the task (or kernel caller) that\n"
		"took it.  Joins %s (root only)\n"
		"with /proc/PID/fd and /proc/PID/fdinfo.  Without root it shows the\n"
		"fds of your own processes only.\n"
		"\n"
		"  --id N     only buffer N (the id of OWNBUF_IOC_INFO)\n"
		"  --json     one JSON object instead of columns\n"
		"\n"
		"Exit status: 0 ok (also when nothing is found), 1 --id N names no\n"
		"buffer or nothing can be read, 2 bad usage.\n",
		ownbuf_prog, OWNBUF_DEBUGFS);
}

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long only = 0, bytes = 0, shared = 0, mut = 0;
	int c, i, j, json = 0, shown = 0, nfds = 0, err;
	struct ls ls = { 0 };
	const char *sep = "";
	char *end;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+i:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			errno = 0;
			only = strtoull(optarg, &end, 10);
			if (*end || end == optarg || errno || !only) {
				errorf("--id: not a buffer id: %s", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			json = 1;
			break;
		default:
			return opt_other(c, "ls", usage_ls, argv);
		}
	}
	if (optind != argc)
		return opt_other(0, "ls", usage_ls, argv);

	err = ls_read_debugfs(&ls);
	ls.debugfs = !err;
	if (err && err != -ENOENT && err != -EACCES && err != -EPERM)
		errorf("%s: %s", OWNBUF_DEBUGFS, strerror(-err));
	if (err && !json)
		fprintf(stderr, "%s: %s: %s: showing the fds of /proc only\n",
			ownbuf_prog, OWNBUF_DEBUGFS, strerror(-err));
	ls_read_fds(&ls);
	ls_join(&ls);
	qsort(ls.bufs, ls.nbufs, sizeof(*ls.bufs), ls_cmp_buf);

	if (json)
		printf("{\"debugfs\": %s,\n  \"buffers\": [\n",
		       ls.debugfs ? "true" : "false");
	for (i = 0; i < ls.nbufs; i++) {
		struct ls_buf *b = &ls.bufs[i];

		if (only && b->id != only)
			continue;
		shown++;
		if (b->known) {
			bytes += b->size;
			for (j = 0; j < b->nborrows; j++)
				if (!strcmp(b->borrows[j].label, "mut"))
					mut++;
				else
					shared++;
		}
		for (j = 0; j < ls.nfds; j++)
			nfds += ls.fds[j].id == b->id;
		if (json) {
			printf("%s", sep);
			json_buf(&ls, b);
			sep = ",\n";
		} else {
			ls_print_buf(&ls, b);
		}
	}
	if (json) {
		printf("\n  ],\n  \"totals\": {\"buffers\": %d, ", shown);
		printf("\"bytes\": %llu, \"borrows\": %llu, ", bytes,
		       shared + mut);
		printf("\"shared\": %llu, \"mut\": %llu, \"fds\": %d}}\n",
		       shared, mut, nfds);
	} else {
		printf("total: %d buffers, %llu bytes, ", shown, bytes);
		printf("%llu borrows (%llu shared, %llu mut), %d fds\n",
		       shared + mut, shared, mut, nfds);
	}
	for (i = 0; i < ls.nbufs; i++)
		free(ls.bufs[i].borrows);
	free(ls.bufs);
	free(ls.fds);
	if (only && !shown)
		return errorf("no buffer %llu", only);
	return EXIT_SUCCESS;
}
