# Tests of powerjob/ (C++): the wire format on its own, and the client and
# executor against the stand-in server (tools/powerjob-standin) started as a
# real process on loopback, with real launchers and a real report route.
# Included by tests/powerjob/CMakeLists.txt.

add_library(svcd_powerjob_test_support STATIC standin.cc)
target_link_libraries(svcd_powerjob_test_support
  PUBLIC svcd_powerjob svcd_dispatch_test_support GTest::gtest)
target_compile_definitions(svcd_powerjob_test_support PRIVATE
  SVCD_POWERJOB_STANDIN="${CMAKE_SOURCE_DIR}/tools/powerjob-standin")
svcd_use_cpprest(svcd_powerjob_test_support)

add_executable(powerjob_test
  client_test.cc
  executor_test.cc
  stop_script_test.cc
  wire_test.cc
)
target_link_libraries(powerjob_test PRIVATE
  svcd_powerjob_test_support spdlog::spdlog GTest::gtest_main)
gtest_discover_tests(powerjob_test DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 180)
