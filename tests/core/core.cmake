# src/core: the file helpers (atomic writes, locks, stale temporary files, mkdir -p).
add_executable(test_files ${CMAKE_CURRENT_LIST_DIR}/test_files.c)
target_include_directories(test_files PRIVATE ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(test_files PRIVATE ib_core)
add_test(NAME core_files COMMAND test_files)
