"""One module per sub-command: HELP, DESCRIPTION, add_arguments(parser), run(args, console)."""
