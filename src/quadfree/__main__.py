"""``python -m quadfree`` = the ``quadfree`` command (also ``torchrun -m quadfree train ...``)."""

import sys

from quadfree.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
