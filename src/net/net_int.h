/* net_int.h: internals shared by the files of net/ (not for other layers). */
#ifndef BALAI_NET_INT_H
#define BALAI_NET_INT_H

#include <stddef.h>
#include <uv.h>

struct balai_loop;

/* Size of the loop's shared read buffer. */
#define BALAI_NET_READBUF 65536

/* The balai_loop that owns `uv` (stored in the uv loop's data). */
struct balai_loop *balai__loop_of(const uv_loop_t *uv);
/* The loop's shared read buffer: every read on the loop lands here and the
 * reader copies what it keeps before returning (libuv calls alloc_cb and
 * read_cb back to back on one thread, so one buffer serves all streams). */
char *balai__loop_readbuf(struct balai_loop *loop);

#endif
