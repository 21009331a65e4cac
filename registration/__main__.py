"""`python -m registration` is `encord-register`."""

from registration.cli.core import entry_point

entry_point()
