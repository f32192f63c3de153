/* log.h: levelled logging to stderr.
 *
 * BALAI_LOG checks the level before evaluating its arguments. Never pass a
 * secret (password, token, message content) to it: the log is read by
 * operators who must not see them. Thread-safe (one write(2) per line). */
#ifndef BALAI_UTIL_LOG_H
#define BALAI_UTIL_LOG_H

enum balai_log_level {
    BALAI_LOG_DEBUG = 0,
    BALAI_LOG_INFO = 1,
    BALAI_LOG_WARN = 2,
    BALAI_LOG_ERROR = 3,
    BALAI_LOG_OFF = 4,
};

extern int balai_log_min_level;

/* Parses "debug", "info", "warn", "error", "off". Returns 0 or BALAI_EINVAL. */
int balai_log_parse_level(const char *s, int *out);
void balai_log_set_level(int level);
/* On the calling thread, buffer lines (on = 1) until balai_log_flush or until
 * the buffer fills; off (0) flushes and writes each line at once again.
 * The event loop turns it on and flushes once per iteration. */
void balai_log_buffer(int on);
void balai_log_flush(void);
void balai_log_write(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define BALAI_LOG(level, module, ...)                                                              \
    do {                                                                                           \
        if ((level) >= balai_log_min_level)                                                        \
            balai_log_write((level), (module), __VA_ARGS__);                                       \
    } while (0)

#define LOG_DEBUG(...) BALAI_LOG(BALAI_LOG_DEBUG, LOG_MODULE, __VA_ARGS__)
#define LOG_INFO(...) BALAI_LOG(BALAI_LOG_INFO, LOG_MODULE, __VA_ARGS__)
#define LOG_WARN(...) BALAI_LOG(BALAI_LOG_WARN, LOG_MODULE, __VA_ARGS__)
#define LOG_ERROR(...) BALAI_LOG(BALAI_LOG_ERROR, LOG_MODULE, __VA_ARGS__)

#endif
