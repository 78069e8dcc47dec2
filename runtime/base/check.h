// The one family of check macros. Each evaluates a statement, and on failure records the
// statement text, the library's own error string and file:line in a ds_err, then returns the
// matching ds_status from the enclosing function (which must return ds_status).
// The macros name library functions only inside their bodies, so this header includes none of
// the CUDA/NCCL/MPI headers: a file that uses DS_CUDA_CHECK includes <cuda_runtime.h> itself.
#ifndef DS_CHECK_H
#define DS_CHECK_H

#include "status.h"

// Propagate a ds_status from a call that already filled the ds_err.
#define DS_TRY(expr)                           \
    do {                                       \
        ds_status ds_try_s_ = (expr);          \
        if (ds_try_s_ != DS_OK) return ds_try_s_; \
    } while (0)

// Fail with a message when a condition a caller controls does not hold.
#define DS_REQUIRE(err, cond, status, ...)                  \
    do {                                                    \
        if (!(cond)) return ds_err_set((err), (status), __VA_ARGS__); \
    } while (0)

#define DS_CUDA_CHECK(err, stmt)                                                              \
    do {                                                                                      \
        cudaError_t ds_e_ = (stmt);                                                           \
        if (ds_e_ != cudaSuccess) {                                                           \
            int ds_dev_ = -1;                                                                 \
            cudaGetDevice(&ds_dev_);                                                          \
            return ds_err_set((err), DS_ERR_CUDA, "%s failed on cuda:%d: %s (%s:%d)", #stmt, \
                              ds_dev_, cudaGetErrorString(ds_e_), __FILE__, __LINE__);        \
        }                                                                                     \
    } while (0)

// After every kernel launch: launch-configuration errors surface here, not at the next sync.
#define DS_CUDA_CHECK_LAUNCH(err) DS_CUDA_CHECK((err), cudaGetLastError())

#define DS_CUBLAS_CHECK(err, stmt)                                                           \
    do {                                                                                     \
        cublasStatus_t ds_e_ = (stmt);                                                       \
        if (ds_e_ != CUBLAS_STATUS_SUCCESS)                                                  \
            return ds_err_set((err), DS_ERR_CUBLAS, "%s failed: %s (%s:%d)", #stmt,         \
                              cublasGetStatusString(ds_e_), __FILE__, __LINE__);            \
    } while (0)

#define DS_CUDNN_CHECK(err, stmt)                                                            \
    do {                                                                                     \
        cudnnStatus_t ds_e_ = (stmt);                                                        \
        if (ds_e_ != CUDNN_STATUS_SUCCESS)                                                   \
            return ds_err_set((err), DS_ERR_CUDNN, "%s failed: %s (%s:%d)", #stmt,          \
                              cudnnGetErrorString(ds_e_), __FILE__, __LINE__);              \
    } while (0)

#define DS_NCCL_CHECK(err, stmt)                                                             \
    do {                                                                                     \
        ncclResult_t ds_e_ = (stmt);                                                         \
        if (ds_e_ != ncclSuccess)                                                            \
            return ds_err_set((err), DS_ERR_NCCL, "%s failed: %s (%s:%d)", #stmt,           \
                              ncclGetErrorString(ds_e_), __FILE__, __LINE__);               \
    } while (0)

#define DS_MPI_CHECK(err, stmt)                                                              \
    do {                                                                                     \
        int ds_e_ = (stmt);                                                                  \
        if (ds_e_ != MPI_SUCCESS) {                                                          \
            char ds_m_[MPI_MAX_ERROR_STRING];                                                \
            int ds_n_ = 0;                                                                   \
            MPI_Error_string(ds_e_, ds_m_, &ds_n_);                                          \
            return ds_err_set((err), DS_ERR_MPI, "%s failed: %s (%s:%d)", #stmt, ds_m_,     \
                              __FILE__, __LINE__);                                           \
        }                                                                                    \
    } while (0)

#endif
