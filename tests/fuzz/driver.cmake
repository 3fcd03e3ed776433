# The fuzz targets built with a plain main() (driver.c) and the normal
# compiler, so every test run replays the seed corpora (under the sanitizers
# too, in a WF2SQLITE_SANITIZE build). Included from tests/unit/CMakeLists.txt.
set(WF_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
foreach(target fuzz_reader fuzz_schema fuzz_duration fuzz_url fuzz_vars fuzz_scenario)
  add_executable(${target}_driver ${WF_FUZZ_DIR}/${target}.c ${WF_FUZZ_DIR}/driver.c)
  target_include_directories(${target}_driver PRIVATE ${WF_FUZZ_DIR})
  target_link_libraries(${target}_driver PRIVATE wf2sqlite_lib wf_build_flags)
  add_test(NAME fuzz.${target}_corpus
    COMMAND ${target}_driver ${WF_FUZZ_DIR}/corpus/${target})
  set_tests_properties(fuzz.${target}_corpus PROPERTIES
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1;UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
endforeach()
# The scenario loader is compass-emu's, not the library's: its sources join
# the driver (the emulator has no library target).
set(WF_EMU_DIR ${CMAKE_SOURCE_DIR}/tools/compass-emu)
target_sources(fuzz_scenario_driver PRIVATE
  ${WF_EMU_DIR}/scenario.c ${WF_EMU_DIR}/util.c ${WF_EMU_DIR}/gen.c)
target_include_directories(fuzz_scenario_driver PRIVATE ${WF_EMU_DIR})
target_link_libraries(fuzz_scenario_driver PRIVATE PkgConfig::JSONC Threads::Threads)
