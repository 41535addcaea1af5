# jobs/: the Slurm executor's inputs and command lines without a cluster (the sbatch-argument
# rule, slurm/submissions.json, '%' in output patterns, 1000 dependencies, task lists, the job
# liveness probe against a stand-in squeue).
add_executable(test_slurm_args ${CMAKE_CURRENT_LIST_DIR}/test_slurm_args.c)
target_include_directories(test_slurm_args PRIVATE ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(test_slurm_args PRIVATE ib_jobs)
add_test(NAME jobs_slurm_args COMMAND test_slurm_args)
