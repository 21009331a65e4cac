"""`make demo`: the whole journey on local defaults (local AWS emulator + local Encord stand-in)."""
