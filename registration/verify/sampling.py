"""Sample objects under a prefix, listed with the deployer's credentials.

Folder markers (keys ending in ``/``) and zero-byte objects are skipped: Encord would
never be sent them. Listing stops after `MAX_SAMPLE_PAGES` pages, so a prefix full of
markers does not turn a check into a bucket scan.
"""

from __future__ import annotations

from dataclasses import dataclass

from registration.verify.aws import AwsClients

MAX_SAMPLE_PAGES = 5
PAGE_SIZE = 1000


@dataclass(frozen=True)
class SampleObject:
    """One object chosen to test the role's access with."""

    key: str
    size: int
    storage_class: str = "STANDARD"


def usable(key: str, size: int) -> bool:
    """True for keys that name real content (not folder markers, not empty objects)."""
    return not key.endswith("/") and size > 0


def sample_objects(
    aws: AwsClients, s3: object, bucket: str, prefix: str, count: int
) -> list[SampleObject]:
    """Up to `count` usable objects under `prefix`, in listing (key) order."""
    found: list[SampleObject] = []
    token: str | None = None
    for _ in range(MAX_SAMPLE_PAGES):
        kwargs: dict[str, object] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE_SIZE}
        if token:
            kwargs["ContinuationToken"] = token
        page = aws.call(s3, "list_objects_v2", "s3:ListBucket", **kwargs)
        for item in page.get("Contents") or []:
            key, size = str(item["Key"]), int(item.get("Size") or 0)
            if usable(key, size):
                found.append(SampleObject(key, size, str(item.get("StorageClass") or "STANDARD")))
                if len(found) >= count:
                    return found
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            break
    return found
