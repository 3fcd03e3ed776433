# bench_reader: the result reader's own speed (not a test; run it by hand).
add_executable(bench_reader ${CMAKE_CURRENT_LIST_DIR}/bench_reader.c)
target_link_libraries(bench_reader PRIVATE wf2sqlite_lib wf_build_flags)
