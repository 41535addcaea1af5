# CUDA backend tests. CI has no GPU: test_cuda then prints "skip: <reason>" and exits 77.
# The Philox and index-scheme checks run on the CPU in every build.
add_executable(test_philox ${CMAKE_CURRENT_SOURCE_DIR}/test_philox.c)
target_link_libraries(test_philox PRIVATE initbench_core)
if(IB_HAVE_CUDA) # the nvcc-compiled host copy of Philox is compared too
  target_link_libraries(test_philox PRIVATE ib_cuda_kernels)
endif()
add_test(NAME cuda_philox_cpu COMMAND test_philox)
# The index schemes (pooling gather, even-k SAME through symmetric padding) against ref, on the CPU.
add_executable(test_cuda_math ${CMAKE_CURRENT_SOURCE_DIR}/test_cuda_math.c)
target_link_libraries(test_cuda_math PRIVATE initbench_core)
add_test(NAME cuda_index_math_cpu COMMAND test_cuda_math)

if(IB_HAVE_CUDA)
  add_executable(test_cuda ${CMAKE_CURRENT_SOURCE_DIR}/test_cuda.c)
  # the backend comes from the module; the test also calls a device Philox kernel directly
  target_link_libraries(test_cuda PRIVATE initbench_core ib_cuda_kernels CUDA::cudart)
  add_test(NAME cuda_parity COMMAND test_cuda)
  set_tests_properties(cuda_parity PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
  add_test(NAME cuda_cli_no_gpu COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_cuda_cli.sh $<TARGET_FILE:initbench>
           "initbench: --backend: cuda: (no usable NVIDIA driver|no CUDA device|the CUDA runtime failed)"
           $<TARGET_FILE:test_cuda>)
else()
  add_test(NAME cuda_cli_no_gpu COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_cuda_cli.sh $<TARGET_FILE:initbench>
           "initbench: --backend: cuda: this initbench was built without CUDA")
endif()
set_tests_properties(cuda_cli_no_gpu PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
# The CUDA graph bookkeeping (kernels/cuda/graph_tape.c) is plain C: tested in every build.
add_executable(test_graph_tape ${CMAKE_CURRENT_SOURCE_DIR}/test_graph_tape.c
               ${CMAKE_CURRENT_SOURCE_DIR}/../kernels/cuda/graph_tape.c)
target_include_directories(test_graph_tape PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/../kernels)
add_test(NAME cuda_graph_tape_cpu COMMAND test_graph_tape)

# The GPU kit (bench/gpu_kit.sh) built and rehearsed here as the GPU machine would run it.
if(IB_HAVE_CUDA AND NOT IB_SANITIZE AND NOT IB_FUZZ)
  add_test(NAME gpu_kit_rehearsal COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_gpu_kit.sh ${CMAKE_SOURCE_DIR}
                                          ${CMAKE_BINARY_DIR}/gpu-kit)
else()
  add_test(NAME gpu_kit_rehearsal COMMAND sh -c "echo 'skip: the GPU kit is a Release CUDA build: this build has IB_HAVE_CUDA=${IB_HAVE_CUDA}, IB_SANITIZE=${IB_SANITIZE}, IB_FUZZ=${IB_FUZZ}'; exit 77")
endif()
set_tests_properties(gpu_kit_rehearsal PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
