/*
 * outfile.c — the file a command writes (outfile.h): a temporary renamed
 * over regular files and absent paths, written straight through to
 * anything else, and SIGINT/SIGTERM leaving the old file as it was.
 */
#define _GNU_SOURCE             /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"
#include "sim.h"

/* ---- interruption ------------------------------------------------------------ */

/* What the handler needs, prepared beforehand: it may only call
 * async-signal-safe functions. */
static char sig_tmp[PATH_MAX + 16];     /* the temporary to remove, or "" */
static char sig_msg[PATH_MAX + 128];
static size_t sig_msg_len;
static bool sig_armed;
static struct sigaction sig_old_int, sig_old_term;

static void on_signal(int sig)
{
	(void)sig;
	if (sig_tmp[0])
		unlink(sig_tmp);
	if (write(STDERR_FILENO, sig_msg, sig_msg_len) < 0)
		sig_msg_len = 0;        /* nothing more to do about it */
	_exit(SVT_EXIT_INTERRUPTED);
}

/* what: what the interruption leaves at o->name */
static void arm(const struct svt_outfile *o, const char *what)
{
	struct sigaction sa = { .sa_handler = on_signal };

	if (!o->signals)
		return;
	snprintf(sig_msg, sizeof(sig_msg), "%s: interrupted; %s %s\n", svt_progname, o->name, what);
	sig_msg_len = strlen(sig_msg);
	snprintf(sig_tmp, sizeof(sig_tmp), "%s", o->tmp ? o->tmp : "");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &sig_old_int);
	sigaction(SIGTERM, &sa, &sig_old_term);
	sig_armed = true;
}

static void disarm(const struct svt_outfile *o)
{
	if (!o->signals || !sig_armed)
		return;
	sigaction(SIGINT, &sig_old_int, NULL);
	sigaction(SIGTERM, &sig_old_term, NULL);
	sig_tmp[0] = '\0';
	sig_armed = false;
}

/* Hold SIGINT and SIGTERM back while the handler's state changes (only
 * where it has one: threads writing files leave signals alone). */
static void block_signals(const struct svt_outfile *o, sigset_t *old)
{
	sigset_t block;

	if (!o->signals)
		return;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, old);
}

static void unblock_signals(const struct svt_outfile *o, const sigset_t *old)
{
	if (o->signals)
		sigprocmask(SIG_SETMASK, old, NULL);
}

/* ---- opening ----------------------------------------------------------------- */

/* The final target of path: path itself unless it is a symbolic link,
 * else what its chain of links names (which need not exist).  Malloc'd;
 * NULL with errno set (ELOOP for too many links). */
static char *resolve(const char *path)
{
	char *p = strdup(path);

	for (int hops = 0; p; hops++) {
		struct stat st;
		char link[PATH_MAX];
		ssize_t n;

		if (lstat(p, &st) != 0) {
			if (errno == ENOENT)
				return p;
			break;
		}
		if (!S_ISLNK(st.st_mode))
			return p;
		if (hops == 40) {
			errno = ELOOP;
			break;
		}
		if ((n = readlink(p, link, sizeof(link) - 1)) < 0)
			break;
		link[n] = '\0';
		char *slash = strrchr(p, '/'), *next;
		if (link[0] == '/' || !slash) {
			next = strdup(link);
		} else {
			size_t dir = (size_t)(slash - p) + 1;
			next = malloc(dir + (size_t)n + 1);
			if (next) {
				memcpy(next, p, dir);
				memcpy(next + dir, link, (size_t)n + 1);
			}
		}
		free(p);
		p = next;
	}
	int e = errno;
	free(p);
	errno = e ? e : ENOMEM;
	return NULL;
}

int svt_outfile_open(struct svt_outfile *o, const char *path, unsigned flags, char *err,
		     size_t errlen)
{
	struct stat st;
	int fd = -1;

	*o = (struct svt_outfile){ .name = path, .signals = (flags & SVT_OUTFILE_SIGNALS) != 0 };
	if (strcmp(path, "-") == 0) {
		o->f = stdout;
		o->name = "standard output";
		arm(o, "incomplete");
		return 0;
	}
	if (!(o->target = resolve(path))) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		return -1;
	}
	bool exists = stat(o->target, &st) == 0;
	if (!exists && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		goto fail;
	}
	if (exists && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(EISDIR));
		goto fail;
	}
	if (exists && !S_ISREG(st.st_mode)) {
		/* a device, a FIFO, a socket: write to it, never replace it */
		arm(o, "written through, incomplete");
		if (!(o->f = fopen(path, "w"))) {
			snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
			disarm(o);
			goto fail;
		}
		return 0;
	}
	size_t n = strlen(o->target);
	if (!(o->tmp = malloc(n + sizeof(".tmpXXXXXX")))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	memcpy(o->tmp, o->target, n);
	memcpy(o->tmp + n, ".tmpXXXXXX", sizeof(".tmpXXXXXX"));
	/* signals wait until the handler knows the temporary's name */
	sigset_t old;
	block_signals(o, &old);
	fd = mkostemp(o->tmp, O_CLOEXEC);
	int e = errno;
	if (fd >= 0)
		arm(o, "left as it was");
	unblock_signals(o, &old);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(e));
		goto fail;
	}
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(fd, exists ? st.st_mode & 07777 : 0666 & ~mask) != 0 ||
	    !(o->f = fdopen(fd, "w"))) {
		snprintf(err, errlen, "%s: cannot write: %s", o->tmp, strerror(errno));
		close(fd);
		unlink(o->tmp);
		disarm(o);
		goto fail;
	}
	return 0;
fail:
	free(o->target);
	free(o->tmp);
	*o = (struct svt_outfile){ .name = path };
	return -1;
}

/* ---- closing ----------------------------------------------------------------- */

int svt_outfile_commit(struct svt_outfile *o, char *err, size_t errlen)
{
	sigset_t old;
	int rc = 0, e = 0;

	if (!o->f)
		return 0;
	bool bad = ferror(o->f) != 0;
	if (bad)
		e = errno ? errno : EIO;
	if (fflush(o->f) != 0 && !bad) {
		bad = true;
		e = errno;
	}
	/* synced before the rename (a file system that cannot sync is no failure) */
	if (!bad && o->tmp && fsync(fileno(o->f)) != 0 && errno != EINVAL && errno != ENOTSUP) {
		bad = true;
		e = errno;
	}
	if (o->f != stdout && fclose(o->f) != 0 && !bad) {
		bad = true;
		e = errno;
	}
	o->f = NULL;
	if (bad) {
		snprintf(err, errlen, "%s: cannot write: %s", o->name, strerror(e));
		rc = -1;
	}
	block_signals(o, &old);
	if (o->tmp) {
		if (rc == 0 && rename(o->tmp, o->target) != 0) {
			snprintf(err, errlen, "%s: cannot write: %s", o->name, strerror(errno));
			rc = -1;
		}
		if (rc != 0)
			unlink(o->tmp);
	}
	disarm(o);
	unblock_signals(o, &old);
	free(o->tmp);
	free(o->target);
	o->tmp = o->target = NULL;
	return rc;
}

void svt_outfile_abort(struct svt_outfile *o)
{
	if (o->f && o->f != stdout)
		fclose(o->f);
	else if (o->f)
		fflush(o->f);
	o->f = NULL;
	if (o->tmp)
		unlink(o->tmp);
	disarm(o);
	free(o->tmp);
	free(o->target);
	o->tmp = o->target = NULL;
}
