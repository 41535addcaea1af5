# (The fast CPU backend against the reference -- formerly kernels_fast_backend here -- is part of
# the generic op test: backend_ops, tests/kernels/kernels.cmake.)
