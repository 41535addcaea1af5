# (The fast CPU backend against the reference -- formerly kernels_fast_backend here -- is part of
# the generic op test: backend_ops, tests/kernels/kernels.cmake.)

# The benchmarks and their summary (bench/summarize.py): built only with Google Benchmark.
if(TARGET initbench_bench)
  add_test(NAME bench_smoke COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_bench_smoke.sh $<TARGET_FILE:initbench_bench>
                                    ${PROJECT_SOURCE_DIR}/bench/summarize.py)
  set_tests_properties(bench_smoke PROPERTIES TIMEOUT 300)
endif()
