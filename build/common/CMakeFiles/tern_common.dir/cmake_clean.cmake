file(REMOVE_RECURSE
  "CMakeFiles/tern_common.dir/msg.c.o"
  "CMakeFiles/tern_common.dir/msg.c.o.d"
  "CMakeFiles/tern_common.dir/strbuf.c.o"
  "CMakeFiles/tern_common.dir/strbuf.c.o.d"
  "CMakeFiles/tern_common.dir/xalloc.c.o"
  "CMakeFiles/tern_common.dir/xalloc.c.o.d"
  "libtern_common.a"
  "libtern_common.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/tern_common.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
