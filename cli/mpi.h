/* mpi.h - the CLI's optional MPI layer (cli/mpi.c, doc/scaling.md): with
 * `make MPI=1` (-DFFR_MPI, mpicc) every command runs under MPI; `train` is
 * data-parallel over the ranks, `relax` and `eval` share their examples, the
 * others are refused over several ranks; the plain build has the same functions
 * as one process. The library never sees MPI: it gets an ffr_comm (src/comm.h). */
#ifndef FFR_CLI_MPI_H
#define FFR_CLI_MPI_H
#include "comm.h"

/* MPI_Init (MPI builds); call first in main. */
void cli_mpi_init(int *argc, char ***argv);
/* The end of main with the command's exit status rc: MPI_Finalize, or, when
 * rc != 0 with several ranks, MPI_Abort so that every rank stops (none waits
 * in a collective for the failed one). Returns rc. */
int cli_mpi_finish(int rc);
/* A failure every rank has (the library's errors of train over a communicator
 * are agreed on; a refused command): rank 0 has printed it; wait for every
 * rank here, and let cli_mpi_finish end normally with the non-zero status
 * instead of MPI_Abort, which could kill rank 0 before its message is out. */
void cli_mpi_failed_everywhere(void);
/* Refuse command cmd on every rank: rank 0 prints msg (cli_fail), then
 * cli_mpi_failed_everywhere. Returns 1 (the exit status). */
int cli_mpi_refuse(const char *cmd, const char *msg);
/* The world communicator, or NULL with one process (or a plain build). */
const ffr_comm *cli_comm(void);
/* This process's rank (0 with one process): only rank 0 writes files. */
int cli_rank(void);
#endif
