# Frozen into our qemu boards. Nothing yet: the board only needs our C
# modules, and the agent's package is added here when it exists.
