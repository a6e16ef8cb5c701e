// SPDX-License-Identifier: MIT
/*
 * fdinfo.c - /proc/<pid>/fdinfo/<fd> of a dma-buf in the kernel's format.
 *
 * The kernel prints the generic lines (pos, flags, mnt_id, ino), then the dma-buf's own:
 * "size:", "count:" (references to the file: descriptors, mappings, pins of poll),
 * "exp_name:" and, once the buffer was ever named, "name:"; then any file locks.  Here the
 * generic lines come from the real file of the memfd behind the descriptor (its flags
 * without the O_LARGEFILE a memfd always has and a dma-buf never), the rest from the broker,
 * the library's tables (this process) and /proc (descriptors and mappings of the other
 * processes we can see; a descriptor in flight in an SCM_RIGHTS message is invisible).  The text is handed out as a read-only memfd, at offset 0.
 *
 * Served: /proc/self/..., /proc/thread-self/..., /proc/<pid>/... of this process and of
 * others (a buffer behind another process's descriptor is asked about through
 * /proc/<pid>/fd/<fd>).
 */
#undef _FILE_OFFSET_BITS
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shim.h"
#include "broker_conn.h"
#include "broker_ident.h"

#define FDINFO_MAX	8192

/* A decimal number without sign or leading zero, up to @end; -1 if it is not one. */
static long number(const char *s, const char **end)
{
	long v = 0;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > INT32_MAX)
			return -1;
	}
	*end = s;
	return v;
}

/*
 * The descriptor number of /proc/<pid>/fdinfo/<fd>, or -1; *@pid: 0 for this process (self,
 * thread-self, our pid or tid), else the pid.
 */
static int fdinfo_fd(const char *path, long *other)
{
	const char *p;
	long pid, fd;

	*other = 0;
	if (strncmp(path, "/proc/", 6))
		return -1;
	p = path + 6;
	if (!strncmp(p, "self/", 5)) {
		p += 5;
	} else if (!strncmp(p, "thread-self/", 12)) {
		p += 12;
	} else {
		pid = number(p, &p);
		if (pid <= 0 || *p != '/')
			return -1;
		if (pid != getpid() && pid != gettid())
			*other = pid;
		p++;
	}
	if (strncmp(p, "fdinfo/", 7))
		return -1;
	fd = number(p + 7, &p);
	return fd < 0 || *p ? -1 : (int)fd;
}

/* The real fdinfo text of @path into @buf (NUL-terminated); its length or a negative errno. */
static ssize_t read_real(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < cap - 1 && (n = REAL(read)(fd, buf + len, cap - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			REAL(close)(fd);
			return n;
		}
		len += (size_t)n;
	}
	REAL(close)(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

static bool generic_line(const char *line)
{
	static const char *const keys[] = { "pos:", "flags:", "mnt_id:", "ino:" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strncmp(line, keys[i], strlen(keys[i])))
			return true;
	return false;
}

static size_t append(char *out, size_t len, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t append(char *out, size_t len, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len >= cap)
		return len;
	va_start(ap, fmt);
	n = vsnprintf(out + len, cap - len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return len;
	return len + (size_t)n < cap ? len + (size_t)n : cap - 1;
}

/* The dma-buf's own lines. */
static size_t buf_lines(char *out, size_t len, size_t cap, const struct dmabuf_fd_buf_desc *info,
			unsigned long count)
{
	len = append(out, len, cap, "size:\t%" PRIu64 "\ncount:\t%lu\nexp_name:\t%s\n",
		     info->size, count, info->exp_name);
	if (info->has_name)
		len = append(out, len, cap, "name:\t%s\n", info->name);
	return len;
}

/*
 * The kernel's text: the generic lines of @real (flags without O_LARGEFILE), the dma-buf's
 * lines, then the rest of @real (locks).
 */
static size_t compose(char *out, size_t cap, const char *real, const struct dmabuf_fd_buf_desc *info,
		      unsigned long count)
{
	const char *line, *next;
	unsigned long flags;
	size_t len = 0;
	bool done = false;

	out[0] = '\0';
	for (line = real; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (!done && !generic_line(line)) {
			len = buf_lines(out, len, cap, info, count);
			done = true;
		}
		if (!strncmp(line, "flags:", 6)) {
			flags = strtoul(line + 6, NULL, 8);
			flags &= ~(unsigned long)shim_largefile_flag();
			len = append(out, len, cap, "flags:\t0%lo\n", flags);
		} else {
			len = append(out, len, cap, "%.*s", (int)(next - line), line);
		}
	}
	if (!done)
		len = buf_lines(out, len, cap, info, count);
	return len;
}

/* A read-only descriptor at offset 0 holding @text. */
static int text_fd(const char *text, size_t len, int flags)
{
	unsigned int cloexec = flags & O_CLOEXEC ? MFD_CLOEXEC : 0;
	char self[64];
	size_t off = 0;
	ssize_t n;
	int mfd, fd;

	mfd = memfd_create("dmabuf-fdinfo", MFD_CLOEXEC);
	if (mfd < 0)
		return -errno;
	while (off < len) {
		n = REAL(write)(mfd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fd = n < 0 ? -errno : -EIO;
			REAL(close)(mfd);
			return fd;
		}
		off += (size_t)n;
	}
	/* a file of its own, opened for reading only, as the /proc file is */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", mfd);
	fd = REAL(open)(self, O_RDONLY | (cloexec ? O_CLOEXEC : 0));
	if (fd >= 0) {
		REAL(close)(mfd);
		return fd;
	}
	if (REAL(lseek)(mfd, 0, SEEK_SET) < 0 ||
	    (!cloexec && REAL(fcntl)(mfd, F_SETFD, 0) < 0)) {
		fd = -errno;
		REAL(close)(mfd);
		return fd;
	}
	return mfd;
}

/* Mappings of (@dev, @ino) in the /proc/<pid>/maps file @path. */
static unsigned long maps_refs(const char *path, dev_t dev, ino_t ino)
{
	unsigned int maj, min;
	unsigned long n = 0;
	char line[512];
	uint64_t i;
	FILE *f = REAL(fopen)(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %x:%x %" SCNu64, &maj, &min, &i) == 3 &&
		    i == (uint64_t)ino && makedev(maj, min) == dev)
			n++;
	fclose(f);
	return n;
}

/* Descriptors of (@dev, @ino) in the /proc/<pid>/fd directory @path. */
static unsigned long fd_refs(const char *path, dev_t dev, ino_t ino)
{
	DIR *d = REAL(opendir)(path);
	unsigned long n = 0;
	struct dirent *e;
	struct stat st;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && !fstatat(dirfd(d), e->d_name, &st, 0) &&
		    st.st_dev == dev && st.st_ino == ino)
			n++;
	closedir(d);
	return n;
}

/*
 * The file's references held by other processes we can see (a fork child, a process the
 * descriptor was sent to): their descriptors and mappings.  The broker's own descriptor is
 * an artefact of ours, not a reference the kernel would count.
 */
static unsigned long other_refs(dev_t dev, ino_t ino)
{
	pid_t self = getpid(), broker = broker_pid();
	DIR *proc = REAL(opendir)("/proc");
	char path[64];
	unsigned long n = 0;
	struct dirent *e;
	const char *end;
	long pid;

	if (!proc)
		return 0;
	while ((e = readdir(proc))) {
		pid = number(e->d_name, &end);
		if (pid <= 0 || *end || pid == self || pid == broker)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		n += fd_refs(path, dev, ino);
		snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
		n += maps_refs(path, dev, ino);
	}
	closedir(proc);
	return n;
}

static int serve(const char *path, int fd, int flags, const struct shim_obj *obj, bool *served)
{
	struct dmabuf_fd_buf_desc info;
	unsigned long count;
	char *real, *text;
	ssize_t n;
	int ret;

	real = malloc(2 * FDINFO_MAX);
	if (!real)
		return 0;	/* the real file, then */
	text = real + FDINFO_MAX;
	n = read_real(path, real, FDINFO_MAX);
	if (n < 0 || shim_buf_info(fd, &info) < 0) {
		/* the real open fails the same way; a broker gone leaves the memfd's text */
		free(real);
		return 0;
	}
	count = (unsigned long)shim_fd_refs(obj->dev, obj->ino) +
		shim_map_count(obj->dev, obj->ino) + shim_pin_count(obj->dev, obj->ino) +
		other_refs(obj->dev, obj->ino);
	n = (ssize_t)compose(text, FDINFO_MAX, real, &info, count);
	ret = text_fd(text, (size_t)n, flags);
	free(real);
	*served = true;
	return ret;
}

/*
 * Another process's descriptor: what the broker says about the file behind it (found through
 * /proc/<pid>/fd/<fd>, which opens the memfd itself).
 */
static int serve_other(const char *path, long pid, int fd, int flags, bool *served)
{
	struct broker_ident id;
	struct shim_obj obj;
	char link[64], target[16];
	struct stat st;
	int tmp, ret = 0;

	snprintf(link, sizeof(link), "/proc/%ld/fd/%d", pid, fd);
	/* broker buffers are memfds: nothing else is worth a question */
	if (stat(link, &st) || !S_ISREG(st.st_mode) || st.st_nlink ||
	    readlink(link, target, sizeof(target)) < 7 || strncmp(target, "/memfd:", 7))
		return 0;
	tmp = REAL(open)(link, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (tmp < 0)
		return 0;
	if (!fstat(tmp, &st) && !broker_ident_get(tmp, &st, &id) && id.type == DMABUFD_TYPE_BUF) {
		obj = (struct shim_obj){ SHIM_BUF, 0, st.st_dev, st.st_ino };
		ret = serve(path, tmp, flags, &obj, served);
	}
	REAL(close)(tmp);
	return ret;
}

int shim_fdinfo_open(const char *path, int flags, bool *served)
{
	struct shim_obj obj;
	long other;
	int fd, ret;

	*served = false;
	if (!path || (fd = fdinfo_fd(path, &other)) < 0 || (!other && !shim_fd_any()))
		return 0;
	/* other access modes, O_PATH, O_DIRECTORY, O_CREAT...: what the real file says */
	if ((flags & O_ACCMODE) != O_RDONLY ||
	    (flags & (O_PATH | O_DIRECTORY | O_CREAT | O_TRUNC | O_TMPFILE)))
		return 0;
	shim_enter();
	if (other)
		ret = serve_other(path, other, fd, flags, served);
	else if (shim_fd_get(fd, &obj, NULL) == SHIM_BUF)
		ret = serve(path, fd, flags, &obj, served);
	else
		ret = 0;
	shim_leave();
	return ret;
}
