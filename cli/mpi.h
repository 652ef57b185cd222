/* mpi.h - the CLI's optional MPI layer (cli/mpi.c, doc/scaling.md): with
 * `make MPI=1` (-DFFR_MPI, mpicc) every command runs under MPI and `train`
 * is data-parallel over the ranks; the plain build has the same functions
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
/* The world communicator, or NULL with one process (or a plain build). */
const ffr_comm *cli_comm(void);
/* This process's rank (0 with one process): only rank 0 writes files. */
int cli_rank(void);
#endif
