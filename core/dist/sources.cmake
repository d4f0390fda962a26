# core/dist: data parallel over processes (dist.h). CMakeLists.txt found MPI (and NCCL) or not;
# the implementation files are chosen here, so shared code never needs an #ifdef.
target_sources(clft_core PRIVATE core/dist/dist_common.c)
if(CLFT_HAVE_MPI)
  target_sources(clft_core PRIVATE core/dist/dist_mpi.c)
  target_link_libraries(clft_core PUBLIC MPI::MPI_C)
  if(CLFT_HAVE_NCCL)
    target_sources(clft_core PRIVATE core/dist/dist_nccl.c)
    target_include_directories(clft_core PRIVATE ${NCCL_INCLUDE_DIR})
    target_link_libraries(clft_core PUBLIC ${NCCL_LIBRARY})
  else()
    target_sources(clft_core PRIVATE core/dist/dist_nccl_none.c)
  endif()
else()
  target_sources(clft_core PRIVATE core/dist/dist_none.c)
endif()
clft_add_test(test_dist tests/test_dist.c)
add_executable(mk_jpegs tests/mk_jpegs.c) # a JPEG tree for test_dist.sh's bad-input case
target_link_libraries(mk_jpegs PRIVATE clft_core)
# 2-rank runs under mpirun: equivalence with one process, SIGKILL of a rank and resume, bad input
# (skips, exit 77, where mpirun or an MPI build is missing).
add_test(NAME test_dist_mpi COMMAND bash tests/test_dist.sh WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(test_dist_mpi PROPERTIES SKIP_RETURN_CODE 77
                     ENVIRONMENT "CLFT_BUILD_DIR=${CMAKE_BINARY_DIR}")
if(CLFT_SANITIZE)
  # Open MPI's run-time plugins (dlopen'ed MCA components, unloaded before exit) leave ~120 kB that
  # LeakSanitizer reports from "<unknown module>" frames no suppression can name; clft's own leaks
  # are caught by every other test. The address and undefined-behaviour checks stay on here.
  set_property(TEST test_dist_mpi APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()
