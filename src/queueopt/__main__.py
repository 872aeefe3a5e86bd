"""`python -m queueopt`: the `queueopt` command, for a machine where the script is not on the PATH."""

from queueopt.cli import main

main()
