// SPDX-License-Identifier: GPL-2.0
/*
 * Who holds a buffer: /sys/kernel/debug/ownbuf/buffers, "ownbuf ls" (the
 * tool, on PATH) and the hand-off tracepoints.  Buffers and borrows are
 * made in several processes, fds are passed by fork() and SCM_RIGHTS, and
 * the file, the tool and the trace must name the right holders, kinds and
 * counts.
 *
 * The fixture "trace" enables tracepoints (leave it out where enabling
 * one is not safe: multi-threaded TCG on the KCSAN kernel).
 */
#include <sys/prctl.h>

#include "ownbuf_util.h"

#define DEBUGFS_BUFFERS	"/sys/kernel/debug/ownbuf/buffers"
#define ME		"ob-holders"
#define KID		"ob-kid"

/* The whole debugfs file, NUL-terminated (free() it), or NULL. */
static char *slurp(const char *path)
{
	size_t len = 0, size = 1 << 16;
	char *buf = malloc(size);
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, size - len - 1)) > 0) {
		len += n;
		if (len + 1 == size) {
			char *p = realloc(buf, size *= 2);

			if (!p)
				break;
			buf = p;
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The block of buffer @id in @text (up to its last line), or NULL. */
static char *block_of(char *text, long long id)
{
	char head[64], *p, *end;

	snprintf(head, sizeof(head), "buffer %lld  size ", id);
	for (p = text; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, head, strlen(head)))
			break;
	}
	if (!p || !*p)
		return NULL;
	end = strstr(p + 1, "\nbuffer ");
	if (!end)
		end = strstr(p, "\ntotal ");
	if (end)
		end[1] = '\0';
	return p;
}

/* Lines of @block starting with @start and containing every @want. */
static int count_lines(const char *block, const char *start,
		       const char *want, const char *want2)
{
	const char *p = block, *nl;
	char line[512];
	int n = 0;
	size_t len;

	while (p && *p) {
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (!strncmp(line, start, strlen(start)) &&
		    (!want || strstr(line, want)) &&
		    (!want2 || strstr(line, want2)))
			n++;
		p = nl ? nl + 1 : NULL;
	}
	return n;
}

/* Log @text line by line: a log record holds 1 KiB at most. */
static void log_lines(struct __test_metadata *_metadata, const char *text)
{
	const char *p, *nl;

	for (p = text; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		TH_LOG("| %.*s", (int)(nl ? nl - p : (long)strlen(p)), p);
	}
}

struct totals {
	long long buffers, bytes, borrows, shared, mut;
};

static int read_totals(struct totals *t)
{
	char *text = slurp(DEBUGFS_BUFFERS), *p;
	int n = 0;

	if (!text)
		return -1;
	p = strstr(text, "total  ");
	if (p)
		n = sscanf(p,
			   "total  %lld buffers, %lld bytes, %lld borrows (%lld shared, %lld mut)",
			   &t->buffers, &t->bytes, &t->borrows, &t->shared,
			   &t->mut);
	free(text);
	return n == 5 ? 0 : -1;
}

/* Run "ownbuf ls ARGS": its output (free() it), or NULL. */
static char *run_ls(const char *args)
{
	char cmd[128], *out;
	size_t len = 0, size = 1 << 16;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ownbuf ls %s 2>/dev/null", args);
	f = popen(cmd, "r");
	out = malloc(size);
	if (!f || !out) {
		if (f)
			pclose(f);
		free(out);
		return NULL;
	}
	len = fread(out, 1, size - 1, f);
	out[len] = '\0';
	if (pclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

static bool have_tool(void)
{
	return !system("ownbuf help ls >/dev/null 2>&1");
}

/* Children of a test, which wait for its end to exit. */
struct kids {
	int sync[2];	/* children say "ready" here */
	int go[2];	/* and wait here to exit */
	pid_t pid[2];
	int n;
};

FIXTURE(holders)
{
	struct kids kids;
	struct totals before;
};

FIXTURE_SETUP(holders)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	if (access(DEBUGFS_BUFFERS, R_OK))
		SKIP(return, "%s: not readable (debugfs, root)", DEBUGFS_BUFFERS);
	ASSERT_EQ(0, prctl(PR_SET_NAME, ME));
	ASSERT_EQ(0, pipe(self->kids.sync));
	ASSERT_EQ(0, pipe(self->kids.go));
	ASSERT_EQ(0, read_totals(&self->before));
}

FIXTURE_TEARDOWN(holders)
{
	int i;

	close(self->kids.go[1]);
	for (i = 0; i < self->kids.n; i++)
		ownbuf_wait(self->kids.pid[i]);
}

/* A child named KID: runs @fn, says so, waits for the test to end. */
static pid_t kid(struct kids *k, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	char c = 0;
	int ret;

	if (pid)
		return k->pid[k->n++] = pid;
	prctl(PR_SET_NAME, KID);
	close(k->go[1]);
	ret = fn(arg);
	if (write(k->sync[1], &ret, sizeof(ret)) != sizeof(ret))
		_exit(1);
	while (read(k->go[0], &c, 1) > 0)
		;
	_exit(0);
}

static int kid_wait(struct kids *k)
{
	int ret = -1;

	if (read(k->sync[0], &ret, sizeof(ret)) != sizeof(ret))
		return -1;
	return ret;
}

static int kid_mut(void *arg)
{
	return ownbuf_mut(*(int *)arg);
}

static int kid_move(void *arg)
{
	return ownbuf_move(*(int *)arg, 0);
}

static int kid_recv(void *arg)
{
	return ownbuf_recv_fd(*(int *)arg);
}

static int kid_nothing(void *arg)
{
	return 0;
}

/*
 * Three buffers made by this process and a child: the file shows who
 * created each, who holds each owner, and each borrow with its kind, its
 * taker and whether it is mapped; the totals count them.
 */
TEST_F(holders, debugfs_names_every_holder)
{
	int a, b, c, s1, s2, m, moved;
	long long ida, idb, idc;
	char me[64], them[64], *text, *blk;
	struct totals now;
	void *map;

	a = ownbuf_open();
	b = ownbuf_open();
	c = ownbuf_open();
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	ida = ownbuf_id(a);
	idb = ownbuf_id(b);
	idc = ownbuf_id(c);
	s1 = ownbuf_shared(a);
	s2 = ownbuf_shared(a);
	ASSERT_LE(0, s1);
	ASSERT_LE(0, s2);
	map = mmap(NULL, OWNBUF_PAGE, PROT_READ, MAP_SHARED, s2, 0);
	ASSERT_NE(MAP_FAILED, map);
	/* A child takes b's mut borrow and moves c. */
	kid(&self->kids, kid_mut, &b);
	m = kid_wait(&self->kids);
	ASSERT_LE(0, m);
	kid(&self->kids, kid_move, &c);
	moved = kid_wait(&self->kids);
	ASSERT_LE(0, moved);

	snprintf(me, sizeof(me), "pid %d (%s)", getpid(), ME);
	snprintf(them, sizeof(them), "pid %d (%s)", self->kids.pid[0], KID);
	text = slurp(DEBUGFS_BUFFERS);
	ASSERT_NE(NULL, text);
	blk = block_of(text, ida);
	ASSERT_NE(NULL, blk);
	log_lines(_metadata, blk);
	EXPECT_EQ(1, count_lines(blk, "  created ", me, NULL));
	EXPECT_EQ(1, count_lines(blk, "  owner ", me, ", its creator"));
	EXPECT_EQ(2, count_lines(blk, "  shared ", me, NULL));
	EXPECT_EQ(1, count_lines(blk, "  shared ", me, ", mapped"));
	EXPECT_EQ(0, count_lines(blk, "  mut ", NULL, NULL));
	EXPECT_EQ(1, count_lines(blk, "buffer ", "size 4096",
				 "0 reads, 0 unsafe, no write"));
	free(text);

	text = slurp(DEBUGFS_BUFFERS);
	ASSERT_NE(NULL, text);
	blk = block_of(text, idb);
	ASSERT_NE(NULL, blk);
	EXPECT_EQ(1, count_lines(blk, "  created ", me, NULL));
	EXPECT_EQ(1, count_lines(blk, "  mut ", them, NULL));
	EXPECT_EQ(0, count_lines(blk, "  shared ", NULL, NULL));
	free(text);

	snprintf(them, sizeof(them), "pid %d (%s)", self->kids.pid[1], KID);
	text = slurp(DEBUGFS_BUFFERS);
	ASSERT_NE(NULL, text);
	blk = block_of(text, idc);
	ASSERT_NE(NULL, blk);
	EXPECT_EQ(1, count_lines(blk, "  created ", me, NULL));
	EXPECT_EQ(1, count_lines(blk, "  owner ", them, ", after 1 move"));
	free(text);

	ASSERT_EQ(0, read_totals(&now));
	EXPECT_EQ(3, now.buffers - self->before.buffers);
	EXPECT_EQ(3 * OWNBUF_DEFAULT_SIZE, now.bytes - self->before.bytes);
	EXPECT_EQ(3, now.borrows - self->before.borrows);
	EXPECT_EQ(2, now.shared - self->before.shared);
	EXPECT_EQ(1, now.mut - self->before.mut);

	/* Given back and dropped: gone from the file. */
	munmap(map, OWNBUF_PAGE);
	ASSERT_EQ(0, ownbuf_release(s1));
	ASSERT_EQ(0, ownbuf_release(s2));
	ASSERT_EQ(0, ownbuf_drop(a));
	ASSERT_EQ(0, read_totals(&now));
	EXPECT_EQ(2, now.buffers - self->before.buffers);
	EXPECT_EQ(1, now.borrows - self->before.borrows);
	text = slurp(DEBUGFS_BUFFERS);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(NULL, block_of(text, ida));
	free(text);
	close(s1);
	close(s2);
	close(a);
	close(b);
	close(c);
}

/* The row of "ownbuf ls" for @role held by @pid's fd @fd, taken by @by. */
static int ls_rows(const char *out, const char *role, pid_t pid,
		   const char *comm, int fd, const char *by)
{
	char want[128];
	int n = 0;
	const char *p;

	snprintf(want, sizeof(want), "  %-7s %-9s %7d %-16s %4d ", role, "live",
		 pid, comm, fd);
	for (p = out; (p = strstr(p, want)); p++) {
		const char *nl = strchr(p, '\n');

		if (!by || (strstr(p, by) && (!nl || strstr(p, by) < nl)))
			n++;
	}
	return n;
}

/*
 * fds moved by fork() and SCM_RIGHTS: "ownbuf ls" shows each with the
 * process and fd number that hold it now, and who took the borrow; a
 * borrow queued in a unix socket is held by no fd.
 */
TEST_F(holders, ls_follows_fork_and_scm_rights)
{
	int o, s, mo, m, sv[2], q[2], held, queued;
	char me[64], *out;
	long long id, idm;
	pid_t child, receiver;

	if (!have_tool())
		SKIP(return, "no \"ownbuf\" tool on PATH");
	o = ownbuf_open();
	mo = ownbuf_open();
	ASSERT_LE(0, o);
	ASSERT_LE(0, mo);
	id = ownbuf_id(o);
	idm = ownbuf_id(mo);
	snprintf(me, sizeof(me), "pid %d (%s)", getpid(), ME);

	/* A shared borrow inherited by a child, then closed here. */
	s = ownbuf_shared(o);
	ASSERT_LE(0, s);
	child = kid(&self->kids, kid_nothing, NULL);
	ASSERT_EQ(0, kid_wait(&self->kids));
	close(s);

	/* A mut borrow sent to another child, then closed here. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	receiver = kid(&self->kids, kid_recv, &sv[1]);
	m = ownbuf_mut(mo);
	ASSERT_LE(0, m);
	ASSERT_EQ(0, ownbuf_send_fd(sv[0], m));
	close(m);
	held = kid_wait(&self->kids);
	ASSERT_LE(0, held);

	/* A shared borrow queued in a socket nobody reads. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, q));
	queued = ownbuf_shared(o);
	ASSERT_LE(0, queued);
	ASSERT_EQ(0, ownbuf_send_fd(q[0], queued));
	close(queued);

	out = run_ls("");
	ASSERT_NE(NULL, out);
	log_lines(_metadata, out);
	/* The owners, here; the shared borrow, in the child only. */
	EXPECT_EQ(1, ls_rows(out, "owner", getpid(), ME, o, NULL));
	EXPECT_EQ(1, ls_rows(out, "owner", getpid(), ME, mo, NULL));
	EXPECT_EQ(1, ls_rows(out, "shared", child, KID, s, me));
	EXPECT_EQ(0, ls_rows(out, "shared", getpid(), ME, s, NULL));
	/* The child also holds the owner o (inherited): both listed. */
	EXPECT_EQ(1, ls_rows(out, "owner", child, KID, o, NULL));
	/* The mut borrow, with the fd number the receiver got. */
	EXPECT_EQ(1, ls_rows(out, "mut", receiver, KID, held, me));
	/* The queued borrow: no process holds it. */
	EXPECT_NE(NULL, strstr(out, "(no fd: in flight?)"));
	free(out);

	/* --id: that buffer only. */
	out = run_ls("--id 1000000000");
	EXPECT_EQ(NULL, out);
	free(out);
	{
		char args[32];

		snprintf(args, sizeof(args), "--id %lld", idm);
		out = run_ls(args);
	}
	ASSERT_NE(NULL, out);
	EXPECT_EQ(1, ls_rows(out, "mut", receiver, KID, held, me));
	EXPECT_EQ(0, ls_rows(out, "owner", getpid(), ME, o, NULL));
	EXPECT_NE(NULL, strstr(out, "total: 1 buffers"));
	free(out);

	/* --json: the borrow with the fds that hold it. */
	{
		char args[32], want[96];

		snprintf(args, sizeof(args), "--json --id %lld", id);
		out = run_ls(args);
		ASSERT_NE(NULL, out);
		snprintf(want, sizeof(want), "\"held_by\": [{\"pid\": %d, \"fd\": %d}]",
			 child, s);
		EXPECT_NE(NULL, strstr(out, want))
			TH_LOG("no %s in %s", want, out);
		snprintf(want, sizeof(want), "\"id\": %lld, \"live\": true", id);
		EXPECT_NE(NULL, strstr(out, want));
		EXPECT_NE(NULL, strstr(out, "\"held_by\": []"));
		free(out);
	}
	close(q[0]);
	close(q[1]);
	close(sv[0]);
	close(sv[1]);
	close(o);
	close(mo);
}

/* ------------------------------------------------------------------ */
/* The hand-off tracepoints, in order, and the holder of a conflict.  */

#define TRACE_DIR	"/sys/kernel/tracing"

FIXTURE(trace)
{
	long long tracing_on;
};

static int trace_write(const char *file, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), TRACE_DIR "/%s", file);
	return ownbuf_write_str(path, val);
}

static int trace_clear(void)
{
	int fd = open(TRACE_DIR "/trace", O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

FIXTURE_SETUP(trace)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	if (access(TRACE_DIR "/events/ownbuf/ownbuf_borrow/enable", W_OK))
		SKIP(return, "no tracefs at %s or no hand-off events",
		     TRACE_DIR);
	self->tracing_on = ownbuf_read_num(TRACE_DIR "/tracing_on");
	ASSERT_LE(0, self->tracing_on);
	ASSERT_EQ(0, prctl(PR_SET_NAME, ME));
	ASSERT_EQ(0, trace_write("tracing_on", "1"));
	ASSERT_EQ(0, trace_clear());
	ASSERT_EQ(0, trace_write("events/ownbuf/enable", "1"));
}

FIXTURE_TEARDOWN_PARENT(trace)
{
	char on[8];

	trace_write("events/ownbuf/enable", "0");
	snprintf(on, sizeof(on), "%lld", self->tracing_on);
	trace_write("tracing_on", on);
	trace_clear();
}

/* The ownbuf events of buffer @id, "name kind" each, joined by ",". */
static void trace_story(long long id, char *out, size_t len)
{
	char line[512], want[32], *ev, *kind;
	size_t n = 0;
	FILE *f;

	out[0] = '\0';
	snprintf(want, sizeof(want), " id=%lld ", id);
	f = fopen(TRACE_DIR "/trace", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || !strstr(line, want))
			continue;
		ev = strstr(line, "ownbuf_");
		kind = strstr(line, " kind=");
		if (!ev)
			continue;
		ev[strcspn(ev, ":")] = '\0';
		if (kind)
			kind[6 + strcspn(kind + 6, " ")] = '\0';
		n += snprintf(out + n, len - n, "%s%s%s", n ? "," : "", ev,
			      kind ? kind : "");
		if (n >= len)
			break;
	}
	fclose(f);
}

/* Expect @story to be the events of @want, in order. */
static void expect_story(struct __test_metadata *_metadata, const char *story,
			 const char * const *want)
{
	char all[512] = "";
	size_t n = 0;

	for (; *want; want++)
		n += snprintf(all + n, sizeof(all) - n, "%s%s", n ? "," : "",
			      *want);
	EXPECT_STREQ(all, story);
}

static const char * const life[] = {
	"ownbuf_create kind=owner", "ownbuf_borrow kind=shared",
	"ownbuf_release kind=shared", "ownbuf_move kind=owner",
	"ownbuf_drop kind=owner", NULL
};

static const char * const revoked[] = {
	"ownbuf_create kind=owner", "ownbuf_borrow kind=mut",
	"ownbuf_revoke kind=owner", "ownbuf_violation", NULL
};

/* create, borrow, release, move, drop: one event each, in this order. */
TEST_F(trace, handoffs_in_order)
{
	char story[512], want[64];
	int o, s, n;
	long long id;
	FILE *f;
	char line[512];
	int mine = 0;

	o = ownbuf_open();
	ASSERT_LE(0, o);
	id = ownbuf_id(o);
	s = ownbuf_shared(o);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, ownbuf_release(s));
	close(s);
	n = ownbuf_move(o, 0);
	ASSERT_LE(0, n);
	ASSERT_EQ(0, ownbuf_drop(n));
	close(n);
	close(o);
	trace_story(id, story, sizeof(story));
	expect_story(_metadata, story, life);

	/* Each by this process. */
	snprintf(want, sizeof(want), "id=%lld kind=", id);
	f = fopen(TRACE_DIR "/trace", "re");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		char who[64];

		if (!strstr(line, want))
			continue;
		snprintf(who, sizeof(who), "pid=%d comm=%s ", getpid(), ME);
		EXPECT_NE(NULL, strstr(line, who));
		TH_LOG("| %s", line);
		mine++;
	}
	fclose(f);
	EXPECT_EQ(5, mine);
}

/* The owner goes away while lent: create, borrow, revoke; no release. */
TEST_F(trace, revoke_ends_the_story)
{
	char story[512];
	long long id;
	int o, s;

	o = ownbuf_open();
	ASSERT_LE(0, o);
	id = ownbuf_id(o);
	s = ownbuf_mut(o);
	ASSERT_LE(0, s);
	close(o);
	close(s);
	trace_story(id, story, sizeof(story));
	expect_story(_metadata, story, revoked);
}

/*
 * A child named KID takes the mut borrow of @o and keeps it until *@go is
 * closed: its pid, or -1.
 */
static pid_t hold_mut(int o, int *go)
{
	int sync[2], pipe_go[2], m = -1;
	pid_t pid;
	char c;

	if (pipe(sync) || pipe(pipe_go))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		prctl(PR_SET_NAME, KID);
		close(pipe_go[1]);
		m = ownbuf_mut(o);
		if (write(sync[1], &m, sizeof(m)) != sizeof(m))
			_exit(1);
		while (read(pipe_go[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(pipe_go[0]);
	close(sync[1]);
	*go = pipe_go[1];
	if (read(sync[0], &m, sizeof(m)) != sizeof(m) || m < 0) {
		close(*go);
		ownbuf_wait(pid);
		pid = -1;
	}
	close(sync[0]);
	return pid;
}

/* A refused borrow names the mut borrow in the way and its taker. */
TEST_F(trace, conflict_names_the_holder)
{
	char want[128], line[512];
	bool found = false;
	int o, go;
	pid_t pid;
	FILE *f;

	o = ownbuf_open();
	ASSERT_LE(0, o);
	pid = hold_mut(o, &go);
	ASSERT_LT(0, pid);
	EXPECT_ERRNO(EBUSY, ownbuf_shared(o));
	close(go);
	EXPECT_EQ(0, ownbuf_wait(pid));

	snprintf(want, sizeof(want),
		 "class=data_race id=%lld pid=%d comm=%s holder=mut holder_pid=%d holder_comm=%s ",
		 ownbuf_id(o), getpid(), ME, pid, KID);
	f = fopen(TRACE_DIR "/trace", "re");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want))
			found = true;
	fclose(f);
	EXPECT_TRUE(found) TH_LOG("no line with \"%s\"", want);
	close(o);
}

TEST_HARNESS_MAIN
