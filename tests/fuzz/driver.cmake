# The fuzz targets built with a plain main() (driver.c) and the normal
# compiler, so every test run replays the seed corpora (under the sanitizers
# too, in a WF2SQLITE_SANITIZE build). Included from tests/unit/CMakeLists.txt.
set(WF_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
foreach(target fuzz_reader fuzz_schema)
  add_executable(${target}_driver ${WF_FUZZ_DIR}/${target}.c ${WF_FUZZ_DIR}/driver.c)
  target_include_directories(${target}_driver PRIVATE ${WF_FUZZ_DIR})
  target_link_libraries(${target}_driver PRIVATE wf2sqlite_lib wf_build_flags)
  add_test(NAME fuzz.${target}_corpus
    COMMAND ${target}_driver ${WF_FUZZ_DIR}/corpus/${target})
  set_tests_properties(fuzz.${target}_corpus PROPERTIES
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1;UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
endforeach()
