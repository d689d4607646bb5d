# The one helper pair every module uses: c360_library() and c360_test().

# GCC 12 reports -Wmaybe-uninitialized false positives on std::optional (GCC bug 80635);
# the sanitizer build checks real uninitialised reads.
set(C360_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-maybe-uninitialized)

if(C360_SANITIZE)
  set(C360_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer)
  add_compile_options(${C360_SANITIZER_FLAGS})
  add_link_options(${C360_SANITIZER_FLAGS})
endif()

# c360_library(NAME SRCS a.cc ... DEPS x y ...)
# A static library whose headers are included by path from the source root
# ("common/time.h", "services/broker/embedded_broker.h").
function(c360_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_compile_options(${name} PRIVATE ${C360_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# c360_test(NAME SRCS a_test.cc ... DEPS lib ... [LABELS l ...])
# A GoogleTest binary registered with ctest, one ctest entry per test case.
function(c360_test name)
  if(NOT C360_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_compile_options(${name} PRIVATE ${C360_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
    PROPERTIES LABELS "unit;${ARG_LABELS}"
    DISCOVERY_TIMEOUT 60
    NO_PRETTY_VALUES)
endfunction()

include(GoogleTest)

# c360_process_test(NAME script.py [LABELS l ...])
# A black-box test in Python (Debian's python3, with confluent-kafka) that runs the real
# c360 binary; generated c360.v1 Python modules are on its PYTHONPATH.
function(c360_process_test name script)
  cmake_parse_arguments(ARG "" "" "LABELS" ${ARGN})
  add_test(NAME ${name} COMMAND ${C360_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/${script})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "C360_BIN=$<TARGET_FILE:c360>;C360_STATE_DUMP=$<TARGET_FILE:c360_state_dump>;PYTHONPATH=${PROJECT_BINARY_DIR}/python;PYTHONDONTWRITEBYTECODE=1"
    LABELS "process;${ARG_LABELS}"
    TIMEOUT 300)
endfunction()
