// Open MPI's C API (pkg-config ompi-c, Debian's libopenmpi-dev). Its handles (MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM, ...) are macros over the addresses of globals, which Swift cannot import:
// each is given here as a function.
#include <mpi.h>

static inline MPI_Comm canopy_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype canopy_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype canopy_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype canopy_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype canopy_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype canopy_mpi_int(void) { return MPI_INT; }
static inline MPI_Op canopy_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op canopy_mpi_max(void) { return MPI_MAX; }
static inline MPI_Request canopy_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Errhandler canopy_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *canopy_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *canopy_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
