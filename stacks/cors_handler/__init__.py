"""The existing-bucket CORS custom resource: its Lambda handler lives in `index.py`.

The directory is the Lambda asset, so `index.py` depends only on the standard library
and boto3 (both in the Lambda Python runtime).
"""
