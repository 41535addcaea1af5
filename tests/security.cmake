# Files from others are data (docs/RELIABILITY.md): output directories, planted links, the resume
# race, the kill window, a filesystem without flock (an LD_PRELOAD shim), memory by the work.
# Skipped (77, saying why) without the MNIST data.
add_library(ib_flock_enolck SHARED ${CMAKE_CURRENT_SOURCE_DIR}/flock_enolck.c)
foreach(case outdir symlinks race killwindow nolock memory)
  add_test(NAME security_${case}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_security.sh $<TARGET_FILE:initbench> ${case}
                   $<TARGET_FILE:ib_flock_enolck>)
  set_tests_properties(security_${case} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endforeach()
