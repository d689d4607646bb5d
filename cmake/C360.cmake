# The one helper pair every module uses: c360_library() and c360_test().

# GCC 12 reports -Wmaybe-uninitialized false positives on std::optional (GCC bug 80635);
# the sanitizer build checks real uninitialised reads.
set(C360_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND C360_WARNINGS -Wno-maybe-uninitialized)
endif()

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
  set_target_properties(${name} PROPERTIES UNITY_BUILD ${C360_UNITY_BUILD})
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

# c360_process_test(NAME script.py [LABELS l ...] [KAFKA] [KAFKA_ONLY] [TIMEOUT s])
# A black-box test in Python (Debian's python3, with confluent-kafka) that runs the real
# c360 binary; generated c360.v1 Python modules are on its PYTHONPATH. Its broker is the
# embedded one. KAFKA also registers NAME_kafka: the same script on a real Apache Kafka
# broker (C360_TEST_BROKER=kafka, tests/lib/kafka_broker.py: the broker at C360_TEST_KAFKA,
# which scripts/test starts for the run, or a private one), label `kafka`, one at a time
# (RESOURCE_LOCK: they share that broker and recreate its c360.* topics). KAFKA_ONLY
# registers NAME on real Kafka alone.
function(c360_process_test name script)
  cmake_parse_arguments(ARG "KAFKA;KAFKA_ONLY" "TIMEOUT" "LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set(env "C360_BIN=$<TARGET_FILE:c360>;C360_STATE_DUMP=$<TARGET_FILE:c360_state_dump>;PYTHONPATH=${PROJECT_BINARY_DIR}/python;PYTHONDONTWRITEBYTECODE=1")
  set(command ${C360_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/${script})
  if(NOT ARG_KAFKA_ONLY)
    add_test(NAME ${name} COMMAND ${command})
    set_tests_properties(${name} PROPERTIES
      ENVIRONMENT "${env}" LABELS "process;${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  endif()
  if(ARG_KAFKA OR ARG_KAFKA_ONLY)
    set(kafka_name ${name}_kafka)
    if(ARG_KAFKA_ONLY)
      set(kafka_name ${name})
    endif()
    add_test(NAME ${kafka_name} COMMAND ${command})
    set_tests_properties(${kafka_name} PROPERTIES
      ENVIRONMENT "${env};C360_TEST_BROKER=kafka" LABELS "process;kafka;${ARG_LABELS}"
      RESOURCE_LOCK c360_kafka TIMEOUT ${ARG_TIMEOUT})
  endif()
endfunction()
