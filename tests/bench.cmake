# The fast CPU backend against the reference: every op, thread-count determinism, a short training run.
add_executable(test_fast_backend ${CMAKE_CURRENT_SOURCE_DIR}/test_fast_backend.c)
target_link_libraries(test_fast_backend PRIVATE initbench_core)
add_test(NAME kernels_fast_backend COMMAND test_fast_backend)
set_tests_properties(kernels_fast_backend PROPERTIES TIMEOUT 600)
