# Writes a C++ file holding every scenarios/*.textproto, so built-in scenarios work from any
# directory. Runs at build time (see runtime/CMakeLists.txt).
file(GLOB scenario_files "${SCENARIO_DIR}/*.textproto")
list(SORT scenario_files)
set(body "")
foreach(path IN LISTS scenario_files)
  get_filename_component(name "${path}" NAME_WE)
  file(READ "${path}" text)
  string(APPEND body "    {\"${name}\", R\"ffscenario(${text})ffscenario\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from scenarios/*.textproto by cmake/embed_scenarios.cmake.\n#include \"runtime/scenario.hpp\"\n\nnamespace flowframe {\nconst std::vector<BuiltinScenario>& builtin_scenarios() {\n  static const std::vector<BuiltinScenario> all{\n${body}  };\n  return all;\n}\n}  // namespace flowframe\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
