# Real single-node Slurm (jobs/slurm-local-up/-down): needs root and the Debian packages
# slurm-wlm and munge; skipped (exit 77) otherwise. Starts daemons on Slurm's default ports,
# hence RUN_SERIAL.
add_test(NAME slurm_local
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_slurm_local.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(slurm_local PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 300
  RUN_SERIAL TRUE
  LABELS slurm)

# `initbench sweep --executor slurm` against a real single-node Slurm: a sweep through sbatch,
# a failed task and resume, resume refusing planted sbatch arguments in slurm/submissions.json,
# requeue + checkpoint (bitwise identical) in a sweep path holding '%', scancel. Same needs as
# slurm_local (root, slurm-wlm, munge; skipped otherwise), plus MNIST in data/. ~2 minutes.
add_test(NAME slurm_sweep
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_slurm_sweep.sh ${CMAKE_SOURCE_DIR} $<TARGET_FILE:initbench>)
# TIMEOUT: 546 s was measured on 2 cores shared with other builds (load 6; ~2 minutes when idle).
set_tests_properties(slurm_sweep PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 900
  RUN_SERIAL TRUE
  LABELS slurm)

# A real 3-node Slurm on this host (jobs/slurm-local-up --nodes 3) and jobs/slurm-local-fault:
# an array spread over the nodes, node-loss mid-task (requeue, completion elsewhere, nothing of
# the lost node left running), return, partition, and slurm-local-down after faults. Same needs
# as slurm_local (root, slurm-wlm, munge; skipped otherwise). About 75 s, most of it waiting for
# Slurm's timeouts.
add_test(NAME slurm_nodes
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_slurm_nodes.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(slurm_nodes PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 300
  RUN_SERIAL TRUE
  LABELS slurm)

# Faults on a real 3-node Slurm (jobs/slurm-local-fault): a 3 x 3 sweep through node loss (the
# task resumes elsewhere from its checkpoint; the node returns and takes new tasks) and a
# partition (two copies of one task at once: one waits, one writes); every run bitwise equal to a
# local sweep, none trained twice from one starting point, nothing left running. Same needs as
# slurm_sweep.
add_test(NAME slurm_faults
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_slurm_faults.sh ${CMAKE_SOURCE_DIR} $<TARGET_FILE:initbench>)
set_tests_properties(slurm_faults PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 900
  RUN_SERIAL TRUE
  LABELS slurm)
