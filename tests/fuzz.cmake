# libFuzzer harnesses for every parser of outside input (built with -DIB_FUZZ=ON and clang).
# Each runs for IB_FUZZ_SECONDS on a copy of its committed seed corpus.
if(IB_FUZZ)
  set(IB_FUZZ_SECONDS 20 CACHE STRING "seconds per fuzz harness in ctest")
  foreach(h idx safetensors spec flags manifest runfiles report submissions tasklist checkpoint probe)
    add_executable(fuzz_${h} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_${h}.c)
    target_link_libraries(fuzz_${h} PRIVATE initbench_core)
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer)
    add_test(NAME fuzz_${h}
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.sh $<TARGET_FILE:fuzz_${h}>
                     ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${h} ${IB_FUZZ_SECONDS})
    set_tests_properties(fuzz_${h} PROPERTIES TIMEOUT 600 LABELS fuzz)
  endforeach()
endif()
