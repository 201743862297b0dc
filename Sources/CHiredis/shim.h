#ifndef IMN_CHIREDIS_SHIM_H
#define IMN_CHIREDIS_SHIM_H
// hiredis 0.14 (Debian 12). Swift cannot call the variadic redisCommand, so only the
// argv forms are used; these inline helpers keep Swift away from the context's layout.
#include <hiredis/hiredis.h>
#include <errno.h>

static inline int imn_redis_context_error(const redisContext *c) { return c == NULL ? REDIS_ERR_OTHER : c->err; }
static inline const char *imn_redis_context_errstr(const redisContext *c) { return c == NULL ? "allocation failed" : c->errstr; }
static inline int imn_errno(void) { return errno; }

#endif
