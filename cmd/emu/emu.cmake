# compass-emu: the local emulator of the Compass API (docs/emulator.md).
# Included from cmd/CMakeLists.txt; the binary lands in ${CMAKE_BINARY_DIR}/cmd.
add_executable(compass-emu
  ${CMAKE_CURRENT_LIST_DIR}/../compass-emu.c
  ${CMAKE_CURRENT_LIST_DIR}/api.c
  ${CMAKE_CURRENT_LIST_DIR}/gen.c
  ${CMAKE_CURRENT_LIST_DIR}/http.c
  ${CMAKE_CURRENT_LIST_DIR}/log.c
  ${CMAKE_CURRENT_LIST_DIR}/scenario.c
  ${CMAKE_CURRENT_LIST_DIR}/util.c
)
target_include_directories(compass-emu PRIVATE ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(compass-emu PRIVATE PkgConfig::JSONC Threads::Threads wf_build_flags)
set_target_properties(compass-emu PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/cmd)
install(TARGETS compass-emu RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
