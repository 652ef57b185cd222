/* comm.c - the helpers of the abstract communicator (comm.h): shards and
 * the agreement on a failure. The collectives themselves are the caller's
 * (cli/mpi.c with MPI); the library never links MPI. */
#include <stdio.h>
#include <string.h>
#include "comm.h"

void ffr_comm_shard(size_t n, size_t block, int rank, int size, size_t *r0, size_t *r1) {
    size_t nb = (n + block - 1) / block, q = nb / (size_t)size, rem = nb % (size_t)size, r = (size_t)rank;
    size_t b0 = r * q + (r < rem ? r : rem), b1 = b0 + q + (r < rem);
    *r0 = b0 * block < n ? b0 * block : n;
    *r1 = b1 * block < n ? b1 * block : n;
}

ffr_status ffr_comm_agree(const ffr_comm *comm, ffr_status rc, ffr_err *err) {
    if (!comm || comm->size <= 1) return rc;
    int first = rc ? comm->rank : comm->size;
    if (comm->allmin(comm->ctx, &first)) return ffr_fail(err, FFR_ERR_IO, "rank %d: a collective failed", comm->rank);
    if (first >= comm->size) return FFR_OK;
    ffr_err e;
    memset(&e, 0, sizeof e);
    if (comm->rank == first) {
        if (err) e = *err;
        e.code = rc;
    }
    if (comm->bcast(comm->ctx, &e, sizeof e, first)) return ffr_fail(err, FFR_ERR_IO, "rank %d: a collective failed", comm->rank);
    e.msg[sizeof e.msg - 1] = 0;
    return ffr_fail(err, e.code ? e.code : FFR_ERR_IO, "rank %d: %s", first, e.msg);
}
