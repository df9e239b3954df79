file(REMOVE_RECURSE
  "../sbin/tern"
  "../sbin/tern.pdb"
  "CMakeFiles/tern.dir/tern_main.c.o"
  "CMakeFiles/tern.dir/tern_main.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/tern.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
