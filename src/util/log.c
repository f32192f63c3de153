/* log.c: levelled logging to stderr, one write(2) per line. */
#include "balai.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

int balai_log_min_level = BALAI_LOG_INFO;

#define LOG_BUF 16384

/* Per-thread buffer; only the thread that enabled it uses it. */
static _Thread_local struct {
    int on;
    size_t len;
    char data[LOG_BUF];
} tl;

static void write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void balai_log_flush(void)
{
    if (tl.len) {
        write_all(tl.data, tl.len);
        tl.len = 0;
    }
}

void balai_log_buffer(int on)
{
    if (!on)
        balai_log_flush();
    tl.on = on;
}

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int balai_log_parse_level(const char *s, int *out)
{
    for (int i = 0; i < (int)BALAI_ARRAY_LEN(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = i;
            return BALAI_OK;
        }
    }
    return BALAI_EINVAL;
}

void balai_log_set_level(int level)
{
    balai_log_min_level = level;
}

void balai_log_write(int level, const char *module, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int w;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    w = snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s %s: ", ts.tv_nsec / 1000000,
                 level_names[level < 0 || level > 3 ? 3 : level], module);
    if (w > 0)
        n += (size_t)w;
    va_start(ap, fmt);
    w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (w > 0)
        n += (size_t)w;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (!tl.on || level >= BALAI_LOG_ERROR) {
        balai_log_flush();
        write_all(line, n);
        return;
    }
    if (tl.len + n > sizeof(tl.data))
        balai_log_flush();
    memcpy(tl.data + tl.len, line, n);
    tl.len += n;
}
