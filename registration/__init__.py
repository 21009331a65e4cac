"""The registration helper: list S3 data, write Encord registration files, register them."""

__version__ = "0.1.0"
