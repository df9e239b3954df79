# Empty dependencies file for tern_common.
# This may be replaced when dependencies are built.
