/* SPDX-License-Identifier: MIT */
/* dmabufctl_trace.h - `dmabufctl trace`: record a command's dma-buf events and render them. */
#ifndef DMABUFCTL_TRACE_H
#define DMABUFCTL_TRACE_H

/**
 * dmabufctl_trace() - the trace command.
 * @argc: the number of words in @argv.
 * @argv: the words from "trace" on: argv[0] is "trace", then its options and the command,
 *	as in `dmabufctl trace -o FILE [--raw=DIR] [--] COMMAND [ARG]...` or
 *	`dmabufctl trace -o FILE --from=DIR`.
 *
 * Runs COMMAND under `dmabuf-run --private` (found as $DMABUF_RUN, else beside the running
 * program, else in PATH) with DMABUF_TRACE_DIR set to a fresh directory, so that the command,
 * its children and its private broker record their events there; then writes FILE (a
 * Chrome trace) and its .svg sibling with dmabuf_trace_render().  With --from, renders a
 * directory recorded before instead.  A terminal's ^C stops the command; the trace is
 * still written.
 *
 * Returns the exit status for main(): COMMAND's (128 + the signal that killed it), 0 for
 * --from or --help, 2 for a usage error, 125 when no trace could be written.
 */
int dmabufctl_trace(int argc, char **argv);

#endif /* DMABUFCTL_TRACE_H */
