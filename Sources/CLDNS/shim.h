#ifndef IMN_CLDNS_SHIM_H
#define IMN_CLDNS_SHIM_H
// ldns (NLnet Labs): the DNS wire format — building queries, parsing answers, printing
// records in presentation format. IMN does its own sockets and timing; ldns does the bytes.
#include <ldns/ldns.h>
// DNSClient's reactor waits for its sockets with epoll, which Glibc's Swift module leaves out.
#include <sys/epoll.h>

#endif
