"""`python -m comicc` (also what `torchrun -m comicc` runs)."""

try:
    from comicc.cli import entry
except KeyboardInterrupt:  # Ctrl-C while Python is still importing the command line
    from comicc.interrupts import EXIT_INTERRUPTED, exit_now, say_interrupted

    say_interrupted()
    exit_now(EXIT_INTERRUPTED)

entry()
