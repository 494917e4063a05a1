// SPDX-License-Identifier: GPL-2.0
/*
 * Using ownbuf from userspace: own a buffer, lend it to a reader, and let
 * the kernel refuse a write that would race with it.  README.md quotes this
 * file; `make` builds it as tools/ownbuf-example.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/ownbuf.h>

int main(void)
{
	struct ownbuf_borrow shared = {
		.flags = OWNBUF_BORROW_SHARED | OWNBUF_BORROW_CLOEXEC,
	};
	char msg[6] = "";
	int owner;

	/* Every open() creates a zero-filled buffer, owned by this fd. */
	owner = open("/dev/ownbuf", O_RDWR | O_CLOEXEC);
	if (owner < 0) {
		perror("/dev/ownbuf");
		return 1;
	}
	if (write(owner, "hello", 6) != 6) {
		perror("write");
		return 1;
	}

	/* Lend it out: the borrow is a new, read-only file descriptor. */
	if (ioctl(owner, OWNBUF_IOC_BORROW, &shared)) {
		perror("OWNBUF_IOC_BORROW");
		return 1;
	}
	if (pread(shared.fd, msg, sizeof(msg), 0) != sizeof(msg)) {
		perror("pread");
		return 1;
	}
	printf("the reader sees \"%s\"\n", msg);

	/* While it is lent out, even the owner may not write. */
	if (pwrite(owner, "HELLO", 6, 0) != -1 || errno != EBUSY) {
		fprintf(stderr, "a write while lent out was not refused\n");
		return 1;
	}
	printf("the owner's write while lent out: %s\n", strerror(errno));

	/* Give the borrow back; then the owner may write again. */
	if (ioctl(shared.fd, OWNBUF_IOC_RELEASE)) {
		perror("OWNBUF_IOC_RELEASE");
		return 1;
	}
	close(shared.fd);
	if (pwrite(owner, "HELLO", 6, 0) != 6) {
		perror("pwrite");
		return 1;
	}
	printf("after the release, the owner's write succeeds\n");

	close(owner);	/* the owner goes away: the buffer is dropped */
	return 0;
}
