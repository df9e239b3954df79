
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/common/msg.c" "common/CMakeFiles/tern_common.dir/msg.c.o" "gcc" "common/CMakeFiles/tern_common.dir/msg.c.o.d"
  "/work/main/common/strbuf.c" "common/CMakeFiles/tern_common.dir/strbuf.c.o" "gcc" "common/CMakeFiles/tern_common.dir/strbuf.c.o.d"
  "/work/main/common/xalloc.c" "common/CMakeFiles/tern_common.dir/xalloc.c.o" "gcc" "common/CMakeFiles/tern_common.dir/xalloc.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
