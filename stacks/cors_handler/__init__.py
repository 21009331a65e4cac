"""The existing-bucket CORS custom resource: its Lambda handler lives in `index.py`.

The directory is the Lambda asset, bundled with the merge it shares with
`encord-register cors` (`registration/cors_merge.py`, see `stacks.bucket_cors.SHARED_MODULES`)
and the handlers' common module (`stacks/handler_common.py`, see `stacks.handler_asset`), so
`index.py` depends only on the standard library, boto3 and those modules.
"""
