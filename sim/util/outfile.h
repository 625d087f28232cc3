/*
 * outfile.h — the file a command writes (-o): never half written.
 *
 * Every command that writes a file (demo, export, report, synth, record)
 * opens it here, so that what is at the path is either what was there
 * before or the whole new file:
 *
 *  - "-" is standard output;
 *  - a path that does not exist, or names a regular file, is written to a
 *    temporary beside it (PATH.tmpXXXXXX) that is renamed over it once
 *    complete; a regular file replaced keeps its permission bits, a new
 *    one gets 0666 less the umask;
 *  - a path that names something else that exists (a character or block
 *    device such as /dev/null, a FIFO, a socket) is written straight
 *    through, never replaced;
 *  - a symbolic link is followed: its final target is what is written
 *    (atomically, as above, when the target is a regular file or does not
 *    exist yet) and the link stays a link;
 *  - a directory is refused.
 *
 * With SVT_OUTFILE_SIGNALS, from svt_outfile_open to svt_outfile_commit or
 * _abort, SIGINT and SIGTERM remove the temporary, say so on standard
 * error and end the program with SVT_EXIT_INTERRUPTED (4), leaving the old
 * file as it was: for a command's one output file.  Without it (a file
 * written in one of several threads, or by a command with its own
 * handlers) signals are left alone.
 */
#ifndef SVT_OUTFILE_H
#define SVT_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct svt_outfile {
	FILE *f;                /* write here */
	const char *name;       /* for messages: the path as given, or "standard output" */
	char *target;           /* the file the result goes to (a link's final target) */
	char *tmp;              /* the temporary renamed over target; NULL: written through */
	bool signals;           /* SVT_OUTFILE_SIGNALS */
};

/* svt_outfile_open flags */
#define SVT_OUTFILE_SIGNALS 1u  /* SIGINT, SIGTERM: remove the temporary, exit 4 */

/* Open path ("-": standard output) for writing.  0, or -1 with the reason
 * ("PATH: ...") in err. */
int svt_outfile_open(struct svt_outfile *o, const char *path, unsigned flags, char *err,
		     size_t errlen);

/* Finish: flush, sync and close the file and rename the temporary over
 * the target.  0, or -1 with the reason in err (the temporary removed,
 * the old file left as it was). */
int svt_outfile_commit(struct svt_outfile *o, char *err, size_t errlen);

/* Give up: close the file and remove the temporary (the old file stays).
 * Written through, what was written stays written. */
void svt_outfile_abort(struct svt_outfile *o);

#endif
