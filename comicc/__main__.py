"""`python -m comicc` (also what `torchrun -m comicc` runs)."""

from comicc.cli import main

raise SystemExit(main())
