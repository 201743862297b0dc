#ifndef IMN_CNATS_SHIM_H
#define IMN_CNATS_SHIM_H
// libnats (cnats) 3.4 from Debian 12.
#include <nats/nats.h>
#include <stdlib.h>

// natsMsgHeader_Keys hands back an array the caller frees; the strings stay owned by the message.
static inline void imn_free_keys(const char **keys) { free((void *)keys); }

#endif
