# The generic op test (tests/kernels/test_backend_ops.c): every op of every registered backend
# against ref, 1 vs 2 threads bit for bit, a short training run. A backend that cannot run here
# (cuda without a GPU) is skipped with its reason; exit 77 when none but ref can run.
add_executable(test_backend_ops ${CMAKE_CURRENT_LIST_DIR}/test_backend_ops.c)
target_link_libraries(test_backend_ops PRIVATE initbench_core)
target_include_directories(test_backend_ops PRIVATE ${CMAKE_CURRENT_LIST_DIR}/..) # tests/check.h
add_test(NAME backend_ops COMMAND test_backend_ops)
set_tests_properties(backend_ops PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
