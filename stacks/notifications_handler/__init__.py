"""The existing-bucket EventBridge-notifications custom resource: its Lambda handler is `index.py`.

The directory is the Lambda asset (`stacks.event_notifications.HANDLER_DIR`, `index.py`
alone), so `index.py` depends only on the standard library and boto3.
"""
