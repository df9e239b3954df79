# Empty compiler generated dependencies file for test_common_strbuf.
# This may be replaced when dependencies are built.
