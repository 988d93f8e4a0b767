// The Brotli encoder of the system (Debian: libbrotli-dev), for the edge's `br` content coding.
#include <brotli/encode.h>
