file(REMOVE_RECURSE
  "CMakeFiles/test_common_strbuf.dir/test_common_strbuf.c.o"
  "CMakeFiles/test_common_strbuf.dir/test_common_strbuf.c.o.d"
  "test_common_strbuf"
  "test_common_strbuf.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_common_strbuf.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
