// Counts every malloc/calloc/realloc/aligned allocation of the benchmark process, by defining
// those functions in the executable (which the dynamic linker prefers) and forwarding to glibc.
#include <stddef.h>
unsigned long imn_allocation_count(void);
