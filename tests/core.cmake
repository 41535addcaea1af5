# Core tests: kernels, gradients, initialisers and optimisers (no data needed).
add_executable(test_kernels ${CMAKE_CURRENT_SOURCE_DIR}/test_kernels.c)
target_link_libraries(test_kernels PRIVATE initbench_core)
add_test(NAME kernels COMMAND test_kernels)
set_tests_properties(kernels PROPERTIES TIMEOUT 300)

add_executable(parity_dump ${CMAKE_CURRENT_SOURCE_DIR}/parity_dump.c)
target_link_libraries(parity_dump PRIVATE initbench_core)
# Parity with PyTorch (Debian's python3-torch via /usr/bin/python3) on the real MNIST batch.
foreach(case "original;0.1" "original;0.001" "original-tanh;0.1" "original-tanh;0.001")
  list(GET case 0 net)
  list(GET case 1 w)
  add_test(NAME parity_torch_${net}_w${w}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_parity.sh $<TARGET_FILE:parity_dump>
                   ${CMAKE_CURRENT_SOURCE_DIR}/parity_torch.py --net ${net} --stddev ${w})
  set_tests_properties(parity_torch_${net}_w${w} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                       ENVIRONMENT INITBENCH=$<TARGET_FILE:initbench>)
endforeach()

# End-to-end command tests on the real MNIST files (skipped, saying why, when the data is absent).
foreach(case determinism mnist_accuracy bad_values sweep sweep_kill diverged resume stop_signals stats papi concurrency full_disk)
  add_test(NAME cli_${case} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_cli.sh $<TARGET_FILE:initbench> ${case})
  set_tests_properties(cli_${case} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1200)
endforeach()

# NVTX: an injection library of our own records the ranges a profiler would see.
if(IB_HAVE_NVTX)
  add_library(nvtx_recorder MODULE ${CMAKE_CURRENT_SOURCE_DIR}/nvtx_recorder.c)
  target_include_directories(nvtx_recorder SYSTEM PRIVATE ${NVTX3_INCLUDE_DIR})
  add_test(NAME cli_nvtx COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_cli.sh $<TARGET_FILE:initbench> nvtx
                                 $<TARGET_FILE:nvtx_recorder>)
  set_tests_properties(cli_nvtx PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()

# Every train/sweep flag against bad values derived from its own type and bounds.
add_executable(test_flags ${CMAKE_CURRENT_SOURCE_DIR}/test_flags.c)
target_link_libraries(test_flags PRIVATE initbench_core)
add_test(NAME flags_bad_values COMMAND test_flags)
# ... and every flag of every command, end to end, from the commands' own flag tables
add_test(NAME flags_every_command COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_every_flag.sh $<TARGET_FILE:initbench>)
set_tests_properties(flags_every_command PROPERTIES TIMEOUT 600)

# The trainer's side of segments (backend.h): a strict wrapper around the cpu backend that holds
# the loss until segment_end and refuses some segment runs must change nothing (real MNIST).
add_executable(test_segments ${CMAKE_CURRENT_SOURCE_DIR}/test_segments.c)
target_link_libraries(test_segments PRIVATE initbench_core)
add_test(NAME trainer_segments COMMAND test_segments --backend cpu --threads 1 --train-size 2000 --test-size 500)
set_tests_properties(trainer_segments PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
