# The probe report (analysis/theory.c, analysis/probe_report.c): mean-field theory against
# hand-computed cases, and the phase-diagram report on a synthetic probe directory with known
# values (gen_synthetic_probe.py), hostile strings and malformed files.
add_executable(test_theory ${CMAKE_CURRENT_SOURCE_DIR}/test_theory.c)
target_link_libraries(test_theory PRIVATE initbench_core m)
add_test(NAME theory COMMAND test_theory)
if(EXISTS /usr/bin/python3)
  set(IB_PROBE_REPORT_PYTHON /usr/bin/python3)
else()
  set(IB_PROBE_REPORT_PYTHON python3)
endif()
add_test(NAME probe_report
         COMMAND ${IB_PROBE_REPORT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_probe_report.py $<TARGET_FILE:initbench>)
set_tests_properties(probe_report PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
