/* mpi.c - the CLI's MPI layer (mpi.h): MPI_COMM_WORLD behind the library's
 * abstract communicator (src/comm.h). Built with MPI only under -DFFR_MPI
 * (`make MPI=1`); otherwise one process and no MPI symbol. Errors of MPI
 * itself keep MPI's default handler (MPI_ERRORS_ARE_FATAL: every rank is
 * aborted), so no rank waits forever for a failed one. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "mpi.h"

#ifdef FFR_MPI
#include <mpi.h>

static ffr_comm world;
static int started, agreed;

static int mpi_allgather(void *ctx, const void *send, size_t bytes, void *recv) {
    (void)ctx;
    if (bytes > INT_MAX) return -1;
    return MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD) != MPI_SUCCESS;
}

static int mpi_allgatherv(void *ctx, const void *send, void *recv, const size_t *counts, const size_t *displs) {
    (void)ctx;
    int P = world.size, me = world.rank, bad = 0;
    int *c = malloc(2 * (size_t)P * sizeof(int));
    if (!c) return -1;
    for (int p = 0; p < P; p++) {
        bad |= counts[p] > INT_MAX || displs[p] > INT_MAX;
        c[p] = (int)counts[p];
        c[P + p] = (int)displs[p];
    }
    int rc = -1;
    if (!bad) {
        int inplace = send == (const char *)recv + displs[me];
        rc = MPI_Allgatherv(inplace ? MPI_IN_PLACE : send, c[me], MPI_BYTE, recv, c, c + P, MPI_BYTE,
                            MPI_COMM_WORLD) != MPI_SUCCESS;
    }
    free(c);
    return rc;
}

static int mpi_bcast(void *ctx, void *buf, size_t bytes, int root) {
    (void)ctx;
    if (bytes > INT_MAX) return -1;
    return MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS;
}

static int mpi_allmin(void *ctx, int *v) {
    (void)ctx;
    return MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS;
}

void cli_mpi_init(int *argc, char ***argv) {
    if (MPI_Init(argc, argv) != MPI_SUCCESS) return;
    started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    world.allgather = mpi_allgather;
    world.allgatherv = mpi_allgatherv;
    world.bcast = mpi_bcast;
    world.allmin = mpi_allmin;
    /* FFRELAX_MPI_REDUCE=rows|all (default all): the row-partitioned reduction, or
       the whole gradient on every rank (doc/scaling.md); the same bits either way */
    const char *r = getenv("FFRELAX_MPI_REDUCE");
    if (r && strcmp(r, "rows") && strcmp(r, "all")) {
        if (world.rank == 0) fprintf(stderr, "ffrelax: FFRELAX_MPI_REDUCE: expected rows or all, found '%s'\n", r);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    world.reduce_rows = r && !strcmp(r, "rows");
}

int cli_mpi_finish(int rc) {
    if (!started) return rc;
    if (rc && world.size > 1 && !agreed) {
        fprintf(stderr, "ffrelax: rank %d of %d failed (exit status %d): stopping every rank\n", world.rank, world.size, rc);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, rc);
    }
    MPI_Finalize();
    return rc;
}

void cli_mpi_failed_everywhere(void) {
    if (!started || world.size < 2) return;
    fflush(stderr);
    agreed = MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS;
}

const ffr_comm *cli_comm(void) { return started && world.size > 1 ? &world : NULL; }
int cli_rank(void) { return started ? world.rank : 0; }

#else /* one process */
void cli_mpi_init(int *argc, char ***argv) { (void)argc; (void)argv; }
int cli_mpi_finish(int rc) { return rc; }
void cli_mpi_failed_everywhere(void) {}
const ffr_comm *cli_comm(void) { return NULL; }
int cli_rank(void) { return 0; }
#endif

int cli_mpi_refuse(const char *cmd, const char *msg) {
    if (cli_rank() == 0) cli_fail(cmd, "%s", msg);
    cli_mpi_failed_everywhere();
    return 1;
}
