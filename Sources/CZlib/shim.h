// zlib (Debian's zlib1g-dev): gzip for OTLP request bodies; libcurl compresses only responses.
#include <zlib.h>
