# CMake generated Testfile for 
# Source directory: /work/main/tests/unit
# Build directory: /work/main/build/tests/unit
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[unit/test_common_strbuf]=] "/work/main/build/tests/unit/test_common_strbuf")
set_tests_properties([=[unit/test_common_strbuf]=] PROPERTIES  LABELS "unit" TIMEOUT "120" _BACKTRACE_TRIPLES "/work/main/tests/unit/CMakeLists.txt;11;add_test;/work/main/tests/unit/CMakeLists.txt;0;")
