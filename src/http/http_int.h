/* http_int.h: structures shared by the files of http/ (not for other
 * layers): the connection engine, the private part of a request, and the
 * server's bookkeeping that the engine calls into. */
#ifndef BALAI_HTTP_INT_H
#define BALAI_HTTP_INT_H

#include <http_parser.h>
#include <stdint.h>

#include "http/conn.h"
#include "http/router.h"
#include "http/server.h"
#include "util/buf.h"

enum http_phase {
    PH_IDLE,    /* between requests */
    PH_HEAD,    /* request line and headers arriving */
    PH_BODY,    /* headers done, body arriving */
    PH_HANDLER, /* dispatched, waiting for the answer */
    PH_WRITING, /* answer being written */
    PH_LINGER,  /* answered, FIN sent, draining input until the peer closes */
    PH_CLOSED,  /* close requested */
};

/* Deadline lists: every connection on one list has the same timeout, so
 * appending at the tail keeps each list sorted by deadline. */
enum http_list {
    L_IDLE,
    L_HEAD,
    L_BODY,
    L_WRITE,
    L_LINGER,
    L_COUNT,
    L_NONE = 0xff,
};

struct http_dlist {
    struct http_dlist *prev, *next;
};

struct http_hdr {
    uint32_t name_off, name_len, val_off, val_len;
};

struct http_scratch {
    struct http_scratch *next;
    char data[];
};

struct http_req;

struct balai_http_conn {
    http_parser parser;
    struct balai_http_server *srv;
    const struct balai_http_io *io;
    void *io_arg;
    struct http_req *req; /* the request in progress, or NULL */
    char *pend;           /* input not parsed yet (pipelining) */
    uint32_t pend_off, pend_len, pend_alloc;
    uint32_t head_bytes;      /* bytes of the current request head so far */
    struct http_dlist all;    /* server's list of connections */
    struct http_dlist timed;  /* deadline list given by `list` */
    struct http_dlist resume; /* on the server's deferred-resume list when linked */
    uint64_t deadline;
    size_t wq_mark;      /* queued bytes at the last write-progress check */
    uint16_t wpending;   /* writes queued in the transport */
    uint16_t err_status; /* failure chosen inside a parser callback */
    uint8_t phase;       /* enum http_phase */
    uint8_t list;        /* enum http_list */
    uint8_t event;       /* why the parser paused */
    uint8_t hdr_state;   /* last header callback: 0 none, 1 field, 2 value */
    uint8_t local;
    uint8_t in_run;
    uint8_t read_paused;
};

struct http_req {
    struct balai_http_req pub;    /* first: handlers get &pub */
    struct balai_http_conn *conn; /* NULL once the connection is gone */
    char *head;                   /* url, then header names and values, then the path */
    uint32_t head_len, head_alloc;
    uint32_t url_len;
    uint32_t query_off, query_len;
    int has_query;
    struct http_hdr *hdrs;
    uint32_t nhdrs, ahdrs;
    char *body;
    size_t body_len, body_alloc, body_max;
    size_t body_expect;    /* Content-Length, 0 if unknown */
    struct balai_buf xhdr; /* extra response headers */
    struct balai_route_match match;
    int match_rc;
    struct http_scratch *scratch;
    char *out; /* response head (+ copied body) */
    size_t out_len;
    char *out_body; /* taken body */
    size_t out_body_len;
    uint64_t start_ns;
    unsigned parser_method;
    int status;
    uint8_t keep_alive;        /* the connection may stay open after the answer */
    uint8_t http10_keep_alive; /* HTTP/1.0 with Connection: keep-alive */
    uint8_t dispatched;
    uint8_t responded;
    uint8_t abort_called;
};

/* ---- server.c, for the engine ---- */
uint64_t balai__http_now_ms(struct balai_http_server *s);
const struct balai_http_limits *balai__http_limits(const struct balai_http_server *s);
const struct balai_router *balai__http_router(const struct balai_http_server *s);
const char *balai__http_server_header(const struct balai_http_server *s);
/* True when the address (len bytes, not terminated) is a trusted proxy. */
int balai__http_trusted_proxy(const struct balai_http_server *s, const char *ip, size_t len);
int balai__http_shutting_down(const struct balai_http_server *s);
/* Moves hc to deadline list `list` (L_NONE: none) with a fresh deadline. */
void balai__http_timed_set(struct balai_http_server *s, struct balai_http_conn *hc, int list);
void balai__http_conn_added(struct balai_http_server *s, struct balai_http_conn *hc);
void balai__http_conn_removed(struct balai_http_server *s, struct balai_http_conn *hc);
void balai__http_record(struct balai_http_server *s, const struct balai_route *route,
                        unsigned parser_method, int status, double seconds);
/* Resume hc's pipelined input on a later loop turn (now without a loop). */
void balai__http_defer_resume(struct balai_http_server *s, struct balai_http_conn *hc);
/* The current Date header value (cached per second). */
const char *balai__http_date(struct balai_http_server *s);

/* ---- conn.c, for server.c and request.c ---- */
/* A deadline passed for hc on list `list`. */
void balai__http_conn_expire(struct balai_http_conn *hc, int list);
/* Shutdown started: close if idle, tell a parked handler. */
void balai__http_conn_shutdown(struct balai_http_conn *hc);
/* Parse input that waited while hc was busy (deferred resume). */
void balai__http_conn_resume(struct balai_http_conn *hc);
/* Close at once (server free); a parked request gets on_abort now. */
void balai__http_conn_close(struct balai_http_conn *hc);
/* Writes the answer to hc->req (buffers owned by the request) and moves
 * on; hc->req may be freed before this returns. */
void balai__http_conn_send(struct balai_http_conn *hc, const struct balai_slice *bufs,
                           unsigned nbufs);

/* ---- request.c ---- */
struct http_req *balai__http_req_new(struct balai_http_conn *hc);
void balai__http_req_free(struct http_req *r);
/* Answers r with a JSON error and closes the connection after it. */
void balai__http_req_fail(struct http_req *r, int status, const char *errcode, const char *error);
/* Percent-decodes s[0..len) into out (len + 1 bytes); '+' is a space when
 * plus_space. Returns the decoded length, or -1 for a bad escape or %00. */
long balai__http_pct_decode(const char *s, size_t len, char *out, int plus_space);
uint64_t balai__http_mono_ns(void);

#endif
