# `initbench probe` (src/probe): probe statistics equal train's stats.csv bit for bit (a numerics
# test: CI reruns it under AVX2), bad grids refused with exit 2, a killed probe resumed, --validate
# through real sweeps.
foreach(case train_equal bad_grid resume validate)
  add_test(NAME probe_${case} COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_probe.py
           $<TARGET_FILE:initbench> ${case})
  set_tests_properties(probe_${case} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
