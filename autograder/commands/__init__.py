"""One module per CLI command. Each defines NAME, HELP, ``configure(parser)`` and ``run(args) -> int``;
``autograder.__main__`` lists them in COMMANDS."""
