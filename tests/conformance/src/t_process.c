// SPDX-License-Identifier: MIT
/* t_process.c - fds across processes: fork, exec, SCM_RIGHTS; children report through pipes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform.h"

/* ---- helpers shared by parent and child ---- */

static void report(int fd, const char *fmt, ...)
{
	char b[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(fd, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

/* everything the child wrote until it closed the pipe */
static void out_report(int fd)
{
	char b[1024];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(b) - 1 && (n = read(fd, b + len, sizeof(b) - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	b[len] = 0;
	out("child{%s}", b);
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte = 'f';
	struct iovec iov = { &byte, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) < 0 ? -errno : 0;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) <= 0)
		return -EIO;
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -ENOMSG;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static void wait_byte(int fd)
{
	char c;

	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
}

static int fence_status(int fd)
{
	struct sync_file_info info;

	memset(&info, 0, sizeof(info));
	if (ioctl(fd, SYNC_IOC_FILE_INFO, &info) < 0)
		return -1000 - errno;
	return info.status;
}

/*
 * A pending fence (its timeline in *tl) and a pipe @p, or -1 when either failed: the current
 * case is then marked broken and ended.
 */
static int fence_and_pipe(int *tl, int p[2])
{
	int f;

	*tl = -1;
	f = pending_fence(tl);
	if (f >= 0 && pipe(p) == 0)
		return f;
	case_broken("setup");
	case_end();
	xclose(f);
	xclose(*tl);
	return -1;
}

/* ---- fork ---- */

static void fork_mapping(const struct exporter *ex)
{
	unsigned char *m, *m2;
	pid_t pid;
	int buf;

	case_begin("process.fork.%s.shared-mapping", ex->name);
	buf = ex->make(BUF_SIZE);
	m = buf < 0 ? MAP_FAILED : mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	if (m == MAP_FAILED) {
		case_broken("setup");
		xclose(buf);
		case_end();
		return;
	}
	pid = conform_fork();
	if (pid == 0) {
		cpu_begin(buf, DMA_BUF_SYNC_WRITE);
		m[0] = 0xc1;
		m2 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
		if (m2 == MAP_FAILED)
			_exit(2);
		m2[1] = 0xc2;
		cpu_end(buf, DMA_BUF_SYNC_WRITE);
		_exit(0);
	}
	out("%s", wait_child(pid));
	cpu_begin(buf, DMA_BUF_SYNC_READ);
	out("%#x %#x", m[0], m[1]);
	cpu_end(buf, DMA_BUF_SYNC_READ);
	expect("exit=0 0xc1 0xc2");
	munmap(m, BUF_SIZE);
	close(buf);
	case_end();
}

static void fork_count(void)
{
	int buf, p[2];
	pid_t pid;

	case_begin("process.fork.fdinfo-count");
	buf = heap_buf(BUF_SIZE, O_RDWR | O_CLOEXEC);
	if (buf < 0 || pipe(p) < 0) {
		case_broken("setup");
		xclose(buf);
		case_end();
		return;
	}
	out("before=%s", fdinfo_field(buf, "count"));
	pid = conform_fork();
	if (pid == 0) {
		close(p[1]);
		wait_byte(p[0]); /* EOF when the parent lets go */
		_exit(0);
	}
	close(p[0]);
	out("child-alive=%s", fdinfo_field(buf, "count"));
	close(p[1]);
	out("%s", wait_child(pid));
	out("after=%s", fdinfo_field(buf, "count"));
	expect("before=1 child-alive=2 exit=0 after=1");
	close(buf);
	case_end();
}

static void fork_fences(void)
{
	int tl = -1, f, buf, ready[2], go[2];
	pid_t pid;

	case_begin("process.fork.child-signals");
	f = pending_fence(&tl);
	if (f < 0) {
		case_broken("sw_sync");
		case_end();
		return;
	}
	pid = conform_fork();
	if (pid == 0)
		_exit(tl_inc(tl, 1) < 0 ? 1 : 0);
	out("%s", wait_child(pid));
	out_info_short("f", f);
	case_end();
	close(f);
	close(tl);

	case_begin("process.fork.child-waits-parent-signals");
	f = fence_and_pipe(&tl, ready);
	if (f < 0)
		return;
	pid = conform_fork();
	if (pid == 0) {
		struct pollfd p = { .fd = f, .events = POLLIN };

		(void)!write(ready[1], "r", 1);
		if (poll(&p, 1, -1) != 1)
			_exit(100);
		_exit(p.revents == POLLIN ? 10 + fence_status(f) : 101);
	}
	close(ready[1]);
	wait_byte(ready[0]);
	tl_inc(tl, 1);
	out("%s", wait_child(pid));
	expect("exit=11");
	case_end();
	close(ready[0]);
	close(f);
	close(tl);

	case_begin("process.fork.child-imports");
	tl = -1;	/* closed above: never close that number twice */
	buf = heap_buf(BUF_SIZE, O_RDWR | O_CLOEXEC);
	f = buf >= 0 ? pending_fence(&tl) : -1;
	if (f >= 0) {
		pid = conform_fork();
		if (pid == 0)
			_exit(import_fence(buf, f, DMA_BUF_SYNC_WRITE) < 0 ? 1 : 0);
		out("%s", wait_child(pid));
		out("poll=%s", poll_str(buf, POLLIN | POLLOUT));
		tl_inc(tl, 1);
		out("poll=%s", poll_str(buf, POLLIN | POLLOUT));
	} else {
		case_broken("setup");
	}
	case_end();
	xclose(f);
	xclose(tl);
	xclose(buf);

	case_begin("process.fork.timeline-dies-with-child");
	f = fence_and_pipe(&tl, go);
	if (f < 0)
		return;
	pid = conform_fork();
	if (pid == 0) {
		close(go[1]);
		wait_byte(go[0]);
		_exit(0); /* drops the last reference to the timeline */
	}
	close(go[0]);
	close(tl);
	out_info_short("parent-closed", f);
	close(go[1]);
	out("%s", wait_child(pid));
	out_info_short("child-gone", f);
	out("poll=%s", poll_str(f, POLLIN));
	case_end();
	close(f);
}

/* ---- exec ---- */

int process_helper(int argc, char **argv)
{
	int i, rep;

	/* --helper exec REPORT-FD FD... : describe each FD */
	if (argc < 4 || strcmp(argv[2], "exec"))
		return 2;
	rep = atoi(argv[3]);
	for (i = 4; i < argc; i++) {
		int fd = atoi(argv[i]);
		const char *exp;

		if (fcntl(fd, F_GETFD) < 0) {
			report(rep, "%s%s", i > 4 ? " " : "", errname(errno));
			continue;
		}
		exp = fdinfo_field(fd, "exp_name");
		if (exp)
			report(rep, "%sdmabuf:size=%s,exp=%s", i > 4 ? " " : "",
			       val(lseek(fd, 0, SEEK_END)), exp);
		else
			report(rep, "%ssync_file:st=%d", i > 4 ? " " : "", fence_status(fd));
	}
	return 0;
}

static void exec_fds(void)
{
	char a[6][16];
	char *args[9];
	int buf, plain, tl = -1, f, fplain, rep[2], i;
	pid_t pid;

	case_begin("process.exec.inherited-fds");
	buf = heap_buf(BUF_SIZE, O_RDWR | O_CLOEXEC);
	plain = buf >= 0 ? fcntl(buf, F_DUPFD, 3) : -1;
	f = pending_fence(&tl);
	fplain = f >= 0 ? fcntl(f, F_DUPFD, 3) : -1;
	if (plain < 0 || fplain < 0 || pipe(rep) < 0) {
		case_broken("setup");
		case_end();
		goto out;
	}
	snprintf(a[0], sizeof(a[0]), "%d", rep[1]);
	snprintf(a[1], sizeof(a[1]), "%d", buf);
	snprintf(a[2], sizeof(a[2]), "%d", plain);
	snprintf(a[3], sizeof(a[3]), "%d", f);
	snprintf(a[4], sizeof(a[4]), "%d", fplain);
	args[0] = "dmabuf-conform";
	args[1] = "--helper";
	args[2] = "exec";
	for (i = 0; i < 5; i++)
		args[3 + i] = a[i];
	args[8] = NULL;
	pid = conform_fork();
	if (pid == 0) {
		close(rep[0]);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	close(rep[1]);
	out_report(rep[0]);
	close(rep[0]);
	out("%s", wait_child(pid));
	expect("child{EBADF dmabuf:size=16384,exp=system EBADF sync_file:st=0} exit=0");
	case_end();
out:
	xclose(buf);
	xclose(plain);
	xclose(f);
	xclose(fplain);
	xclose(tl);
}

/* ---- SCM_RIGHTS ---- */

/*
 * Start an SCM_RIGHTS case: a socket pair @sv, a report pipe @rep unless it is NULL, and a
 * child that receives one descriptor on sv[1].  The parent gets the child's pid and keeps sv[0]
 * (and rep[0]); -1 when the setup failed: the case is then broken and ended.  The child gets 0
 * and the descriptor in *fd, and keeps sv[1] (and rep[1]); when nothing arrives it reports so
 * and exits with status 1.
 */
static pid_t fork_receiver(int sv[2], int rep[2], int *fd)
{
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || (rep && pipe(rep) < 0)) {
		case_broken("socketpair");
		case_end();
		return -1;
	}
	pid = conform_fork();
	if (pid == 0) {
		close(sv[0]); /* else the child keeps its own socket from ever seeing EOF */
		if (rep)
			close(rep[0]);
		*fd = recv_fd(sv[1]);
		if (*fd < 0) {
			if (rep)
				report(rep[1], "recv=%s", errname(-*fd));
			_exit(1);
		}
		return 0;
	}
	close(sv[1]);
	if (rep)
		close(rep[1]);
	return pid;
}

static void scm_dmabuf(const struct exporter *ex)
{
	int sv[2], rep[2], buf = -1, fd;
	unsigned char *m = MAP_FAILED;
	pid_t pid;

	case_begin("process.scm.%s.buffer", ex->name);
	/* the child exists before the buffer: it can only get it through the socket */
	pid = fork_receiver(sv, rep, &fd);
	if (pid < 0)
		return;
	if (pid == 0) {
		unsigned char *cm;

		cm = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (cm == MAP_FAILED) {
			report(rep[1], "mmap=%s", errname(errno));
			_exit(1);
		}
		cpu_begin(fd, DMA_BUF_SYNC_RW);
		report(rep[1], "size=%s exp=%s name=%s mode=%s seen=%#x",
		       val(lseek(fd, 0, SEEK_END)), fdinfo_field(fd, "exp_name"),
		       fdinfo_field(fd, "name") ? fdinfo_field(fd, "name") : "none", fd_mode(fd),
		       cm[0]);
		cm[1] = 0xd2;
		cpu_end(fd, DMA_BUF_SYNC_RW);
		_exit(0);
	}
	buf = ex->make(BUF_SIZE);
	if (buf >= 0) {
		ioctl(buf, DMA_BUF_SET_NAME, "sent");
		m = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	}
	if (m == MAP_FAILED) {
		case_broken("buffer");
		close(sv[0]);
	} else {
		cpu_begin(buf, DMA_BUF_SYNC_WRITE);
		m[0] = 0xd1;
		cpu_end(buf, DMA_BUF_SYNC_WRITE);
		out("send=%s", errname(-send_fd(sv[0], buf)));
	}
	out_report(rep[0]);
	out("%s", wait_child(pid));
	if (m != MAP_FAILED) {
		cpu_begin(buf, DMA_BUF_SYNC_READ);
		out("parent-sees=%#x", m[1]);
		cpu_end(buf, DMA_BUF_SYNC_READ);
		munmap(m, BUF_SIZE);
		close(sv[0]);
	}
	close(rep[0]);
	xclose(buf);
	case_end();
}

static void scm_fences(void)
{
	int sv[2], rep[2], tl = -1, f = -1, fd;
	pid_t pid;

	case_begin("process.scm.sync_file-child-waits");
	pid = fork_receiver(sv, rep, &fd);
	if (pid < 0)
		return;
	if (pid == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		report(rep[1], "before=%d ", fence_status(fd));
		(void)!write(sv[1], "r", 1);
		{
			int n = poll(&p, 1, -1);

			report(rep[1], "poll=%d rev=%#x after=%d", n, p.revents, fence_status(fd));
		}
		_exit(0);
	}
	f = pending_fence(&tl);
	out("send=%s", f < 0 ? "no-fence" : errname(-send_fd(sv[0], f)));
	if (f >= 0) {
		wait_byte(sv[0]);
		tl_inc(tl, 1);
	}
	close(sv[0]); /* a child still waiting for the fd sees EOF */
	out_report(rep[0]);
	out("%s", wait_child(pid));
	expect("send=ok child{before=0 poll=1 rev=0x1 after=1} exit=0");
	close(rep[0]);
	xclose(f);
	xclose(tl);
	case_end();

	case_begin("process.scm.timeline-child-signals");
	pid = fork_receiver(sv, NULL, &fd);
	if (pid < 0)
		return;
	if (pid == 0)
		_exit(tl_inc(fd, 2) < 0 ? 2 : 0);
	f = pending_fence(&tl);
	out("send=%s", f < 0 ? "no-fence" : errname(-send_fd(sv[0], tl)));
	close(sv[0]);
	out("%s", wait_child(pid));
	out_info_short("f", f);
	xclose(f);
	xclose(tl);
	case_end();

	case_begin("process.scm.heap-device-child-allocates");
	pid = fork_receiver(sv, NULL, &fd);
	if (pid < 0)
		return;
	if (pid == 0) {
		struct dma_heap_allocation_data a = { .len = 2 * PAGE, .fd_flags = O_RDWR };

		if (ioctl(fd, DMA_HEAP_IOCTL_ALLOC, &a) < 0)
			_exit(1);
		_exit(send_fd(sv[1], (int)a.fd) < 0 ? 2 : 0);
	}
	f = send_fd(sv[0], heap_dev());
	out("send=%s", errname(-f));
	if (f == 0)
		f = recv_fd(sv[0]);
	else
		shutdown(sv[0], SHUT_RDWR); /* the child waiting for the device sees EOF */
	out("%s", wait_child(pid));
	if (f >= 0)
		out("got size=%s exp=%s", val(lseek(f, 0, SEEK_END)), fdinfo_field(f, "exp_name"));
	else
		out("recv=%s", errname(-f));
	xclose(f);
	close(sv[0]);
	case_end();
}

static void scm_in_flight(void)
{
	int sv[2], buf, got;

	case_begin("process.scm.in-flight-holds-buffer");
	buf = heap_buf(BUF_SIZE, O_RDWR | O_CLOEXEC);
	if (buf < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		case_broken("setup");
		xclose(buf);
		case_end();
		return;
	}
	ioctl(buf, DMA_BUF_SET_NAME, "in-flight");
	out("send=%s", errname(-send_fd(sv[0], buf)));
	out("count-in-flight=%s", fdinfo_field(buf, "count"));
	close(buf);
	got = recv_fd(sv[1]);
	if (got < 0) {
		out("recv=%s", errname(-got));
	} else {
		out("count=%s name=%s size=%s mode=%s", fdinfo_field(got, "count"),
		    fdinfo_field(got, "name"), val(lseek(got, 0, SEEK_END)), fd_mode(got));
		close(got);
	}
	close(sv[0]);
	close(sv[1]);
	case_end();
}

void t_process(void)
{
	unsigned int i;

	for (i = 0; i < n_exporters; i++)
		fork_mapping(&exporters[i]);
	fork_count();
	fork_fences();
	exec_fds();
	for (i = 0; i < n_exporters; i++)
		scm_dmabuf(&exporters[i]);
	scm_fences();
	scm_in_flight();
}
