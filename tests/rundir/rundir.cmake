# src/rundir: the run directory's files and states.
add_executable(test_rundir ${CMAKE_CURRENT_LIST_DIR}/test_rundir.c)
target_include_directories(test_rundir PRIVATE ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(test_rundir PRIVATE ib_rundir)
add_test(NAME rundir_files COMMAND test_rundir)
