"""Encord's side: its registration formats and limits, the JSON Schema, and the SDK client.

`client` is the only module of the helper that imports the `encord` SDK (inside functions, so
importing this package stays cheap). `formats` and `limits` hold every assumption and limit
of Encord's registration files in one place; `schema` validates files against the shipped
JSON Schema; `files` lists and reads registration files; `retry` is the one retry policy.
"""
