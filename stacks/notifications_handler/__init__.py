"""The existing-bucket EventBridge-notifications custom resource: its Lambda handler is `index.py`.

The directory is the Lambda asset (`stacks.event_notifications.HANDLER_DIR`), bundled with
the handlers' common module (`stacks/handler_common.py`, see `stacks.handler_asset`), so
`index.py` depends only on the standard library, boto3 and that module.
"""
