/*
 * image.c — a raw guest-physical memory image file as the core's
 * environment: byte N of the file is guest-physical byte N.  Reads past the
 * end of the file are zero (so sparse and short images both work); writes
 * go to the file with pwrite and only happen when the image was opened
 * writable.  A failed access is remembered with its address so the caller
 * can name it.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "image.h"

static int image_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct svt_image *img = ctx;
	uint8_t *p = buf;
	size_t done = 0;

	if (gpa > (uint64_t)INT64_MAX - len) {
		memset(buf, 0, len);
		return 0;
	}
	while (done < len) {
		ssize_t n = pread(img->fd, p + done, len - done, (off_t)(gpa + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			img->err = errno;
			img->err_gpa = gpa + done;
			return -1;
		}
		if (n == 0) { /* past the end: zero */
			memset(p + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

static int image_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct svt_image *img = ctx;
	const uint8_t *p = buf;
	size_t done = 0;

	if (!img->writable) {
		img->err = EROFS;
		img->err_gpa = gpa;
		return -1;
	}
	while (done < len) {
		ssize_t n = pwrite(img->fd, p + done, len - done, (off_t)(gpa + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			img->err = errno;
			img->err_gpa = gpa + done;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

int svt_image_open(struct svt_image *img, const char *path, bool writable)
{
	img->path = path;
	img->writable = writable;
	img->err = 0;
	img->err_gpa = 0;
	img->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	return img->fd < 0 ? -1 : 0;
}

void svt_image_close(struct svt_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

void svt_image_env(struct svt_image *img, struct svt_env *env)
{
	env->ctx = img;
	env->read_gpa = image_read;
	env->write_gpa = image_write;
}
