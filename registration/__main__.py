"""`python -m registration` is `encord-register`."""

from registration.cli import entry_point

entry_point()
