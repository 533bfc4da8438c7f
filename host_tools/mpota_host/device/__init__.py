# SPDX-License-Identifier: MIT
"""`mpota device`: bring up a board over its USB serial port (docs/BRINGUP.md).

  link.py      the board on a serial port: the one module using mpremote
  wire.py      the host's half of the serial wire protocol
  board.py     what a board is (implementation, .mpy version, architecture)
  agent.py     the agent's files as the board gets them
  calls.py     what every command does: connect, call mpota.bringup, show
  install.py   `install`: the agent onto the board
  commands.py  the other commands, and the arguments of all
"""
