# The CUDA backend (kernels/cuda), included from the top-level CMakeLists.txt right after
# ib_kernels is defined (include(), not add_subdirectory: enable_language(CUDA) must run in
# the top directory, which links the executables).
#   IB_CUDA=AUTO  build it when nvcc, the CUDA toolkit and cuDNN are all found (default)
#   IB_CUDA=ON    require them (configure fails, saying what is missing)
#   IB_CUDA=OFF   never; `--backend cuda` then says "built without CUDA"
# Architectures: CMAKE_CUDA_ARCHITECTURES, default 90 (Hopper: H100/H200).
# cuDNN has no CMake target: found with find_library/find_path next to the toolkit.
set_property(CACHE IB_CUDA PROPERTY STRINGS AUTO ON OFF)
if(NOT IB_CUDA MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "IB_CUDA must be AUTO, ON or OFF (got '${IB_CUDA}')")
endif()
set(IB_HAVE_CUDA OFF)
if(NOT IB_CUDA STREQUAL "OFF")
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib64)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND CUDAToolkit_NVCC_EXECUTABLE)
      set(ENV{CUDACXX} ${CUDAToolkit_NVCC_EXECUTABLE}) # nvcc need not be on PATH
    endif()
    include(CheckLanguage)
    check_language(CUDA)
  endif()
  if(CUDAToolkit_FOUND AND CMAKE_CUDA_COMPILER AND CUDNN_LIBRARY AND CUDNN_INCLUDE_DIR)
    set(IB_HAVE_CUDA ON)
  elseif(IB_CUDA STREQUAL "ON")
    message(FATAL_ERROR "IB_CUDA=ON but the CUDA backend cannot be built: CUDA toolkit found: ${CUDAToolkit_FOUND}; "
                        "nvcc: ${CMAKE_CUDA_COMPILER}; cuDNN library: ${CUDNN_LIBRARY}; cudnn.h: ${CUDNN_INCLUDE_DIR}")
  endif()
endif()

if(IB_HAVE_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "CUDA architectures (90: Hopper)")
  endif()
  set(CMAKE_CUDA_RUNTIME_LIBRARY Shared) # otherwise the link line gets the shared and the static runtime
  enable_language(CUDA)
  # ib_kernels was defined before CUDA was enabled: give it the architectures too.
  set_property(TARGET ib_kernels PROPERTY CUDA_ARCHITECTURES ${CMAKE_CUDA_ARCHITECTURES})
  # Our own kernels. The directory's compile options (-Wall -Wextra -Werror, -march=native,
  # sanitizers, fuzzing) are for gcc/clang, not nvcc: replace them for this target.
  # --fmad=false: elementwise float arithmetic rounds as on the CPU (ref.c is not contracted).
  add_library(ib_cuda_kernels STATIC kernels/cuda/cuda_kernels.cu)
  set_property(TARGET ib_cuda_kernels PROPERTY POSITION_INDEPENDENT_CODE ON)
  set_property(TARGET ib_cuda_kernels PROPERTY COMPILE_OPTIONS --fmad=false -Xcompiler=-Wall,-Wextra)
  target_include_directories(ib_cuda_kernels PRIVATE kernels kernels/cuda)
  target_link_libraries(ib_cuda_kernels PUBLIC CUDA::cudart)
  # The backend is a module loaded on first use (kernels/cuda/cuda_loader.c): linking cudart,
  # cuBLAS and cuDNN into initbench itself cost every run seconds of start-up.
  string(REPLACE ";" "," IB_CUDA_ARCHS_TEXT "${CMAKE_CUDA_ARCHITECTURES}")
  add_library(initbench_cuda MODULE kernels/cuda/cuda_backend.c kernels/cuda/cuda_conv.c kernels/cuda/cuda_graphs.c
                              kernels/cuda/graph_tape.c)
  set_target_properties(initbench_cuda PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
                        C_VISIBILITY_PRESET hidden)
  target_compile_definitions(initbench_cuda PRIVATE IB_CUDA_ARCHS="${IB_CUDA_ARCHS_TEXT}")
  target_include_directories(initbench_cuda PRIVATE kernels)
  target_include_directories(initbench_cuda SYSTEM PRIVATE ${CUDNN_INCLUDE_DIR})
  target_link_libraries(initbench_cuda PRIVATE ib_cuda_kernels CUDA::cudart CUDA::cublas ${CUDNN_LIBRARY} m)
  target_compile_definitions(ib_kernels PUBLIC IB_HAVE_CUDA=1
                             PRIVATE IB_CUDA_MODULE_PATH="$<TARGET_FILE:initbench_cuda>")
  add_dependencies(ib_kernels initbench_cuda)
  message(STATUS "CUDA backend: ON (architectures ${CMAKE_CUDA_ARCHITECTURES}; cuDNN ${CUDNN_LIBRARY})")
else()
  message(STATUS "CUDA backend: OFF (IB_CUDA=${IB_CUDA})")
endif()
