"""The AWS CDK side: the construct that grants Encord access to S3 data, and its stack."""
