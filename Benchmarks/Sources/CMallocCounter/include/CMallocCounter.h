// Counts every malloc/calloc/realloc/aligned allocation of the benchmark process, by defining
// those functions in the executable (which the dynamic linker prefers) and forwarding to glibc.
#include <stddef.h>
unsigned long imn_allocation_count(void);
/// Pins the calling process to one CPU (sched_setaffinity); 0 on success.
int imn_pin_to_cpu(int cpu);
