/* version.c - the version of the library that runs (include/ffrelax.h states
 * the ABI rule that goes with it). */
#include "ffrelax.h"

int ffr_version(void) { return FFR_VERSION_NUMBER; }
