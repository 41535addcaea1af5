# Reports (analysis/): aggregation on synthetic sweeps with known values, bad input, --out into a
# user's directory refused, aggregation speed (1000 runs), the page in headless Chromium, and an
# end-to-end run on a tiny real sweep.
# Skipped (77, saying why) when gnuplot, chromium or the MNIST data are missing.
if(EXISTS /usr/bin/python3)
  set(IB_REPORT_PYTHON /usr/bin/python3) # Debian's, not a version-manager shim (slow to start)
else()
  set(IB_REPORT_PYTHON python3)
endif()
foreach(case aggregate bad_input outdir speed chromium e2e)
  add_test(NAME report_${case}
           COMMAND ${IB_REPORT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_report.py $<TARGET_FILE:initbench> ${case})
  set_tests_properties(report_${case} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
# A hostile sweep directory (every string field of every file report, sweep status and sweep
# collect read): no command runs, no foreign element in the page (headless Chromium), CSVs
# rectangular, or exit 2 naming file and field.
add_test(NAME security_hostile_sweep
         COMMAND ${IB_REPORT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_hostile.py $<TARGET_FILE:initbench>)
set_tests_properties(security_hostile_sweep PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1200)
