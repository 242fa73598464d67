# Helpers for llmc's MLIR-based libraries.

# llmc_mlir_library(NAME SOURCES... [DEPENDS tablegen targets...] [LINK libs...])
# A static library compiled like LLVM (no RTTI/exceptions), linked to the shared libMLIR.
function(llmc_mlir_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS;LINK" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  target_compile_options(${name} PRIVATE ${LLMC_MLIR_CXX_FLAGS})
  target_include_directories(${name} SYSTEM PUBLIC ${MLIR_INCLUDE_DIRS} ${LLVM_INCLUDE_DIRS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC MLIR LLVM ${ARG_LINK})
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
endfunction()

# llmc_mlir_tool(NAME SOURCES... [LINK libs...]): an executable with the same settings.
function(llmc_mlir_tool name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
  add_executable(${name} ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  target_compile_options(${name} PRIVATE ${LLMC_MLIR_CXX_FLAGS})
  target_link_libraries(${name} PRIVATE ${ARG_LINK})
endfunction()
