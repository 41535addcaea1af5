# The network layer (src/model): the optimiser fused into backward against the separate pass,
# bit for bit (tests/model/test_fused_update.c).
add_executable(test_fused_update ${CMAKE_CURRENT_LIST_DIR}/test_fused_update.c)
target_link_libraries(test_fused_update PRIVATE initbench_core)
target_include_directories(test_fused_update PRIVATE ${CMAKE_CURRENT_LIST_DIR}/.. ${PROJECT_SOURCE_DIR}/kernels/cpu)
add_test(NAME fused_update COMMAND test_fused_update)
set_tests_properties(fused_update PROPERTIES TIMEOUT 600)
