file(REMOVE_RECURSE
  "libtern_common.a"
)
