"""The ``quadfree`` command line: one thin module per command (parse → call library → print)."""
