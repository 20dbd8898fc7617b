# Fails listing every C++ file that clang-format (Google style) would change.
file(GLOB_RECURSE sources
  ${SOURCE_DIR}/core/*.cc ${SOURCE_DIR}/core/*.h
  ${SOURCE_DIR}/store/*.cc ${SOURCE_DIR}/store/*.h
  ${SOURCE_DIR}/indexer/*.cc ${SOURCE_DIR}/indexer/*.h
  ${SOURCE_DIR}/services/*.cc ${SOURCE_DIR}/services/*.h
  ${SOURCE_DIR}/cli/*.cc ${SOURCE_DIR}/cli/*.h
  ${SOURCE_DIR}/tests/*.cc ${SOURCE_DIR}/tests/*.h
  ${SOURCE_DIR}/bench/*.cc ${SOURCE_DIR}/bench/*.h)
set(unformatted "")
foreach(file IN LISTS sources)
  execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${file}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    list(APPEND unformatted ${file})
  endif()
endforeach()
list(LENGTH sources count)
if(unformatted)
  string(REPLACE ";" "\n  " listing "${unformatted}")
  message(FATAL_ERROR "not clang-formatted (run clang-format -i):\n  ${listing}")
endif()
message(STATUS "${count} C++ files are clang-formatted")
