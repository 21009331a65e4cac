"""Continuous registration: S3 events (through EventBridge and SQS) registered as they land.

The Lambda handler (`handler.handler`) and the `encord-register continuous` commands share this
package. Classification, URLs, titles, items, sidecars and skip reasons come from
`registration.build`; submission from `registration.encord`. No aws-cdk-lib here: the
construct that deploys it is `stacks.continuous`.
"""
