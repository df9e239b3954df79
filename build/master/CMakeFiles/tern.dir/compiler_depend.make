# Empty compiler generated dependencies file for tern.
# This may be replaced when dependencies are built.
