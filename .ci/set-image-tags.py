#!/usr/bin/env python3
"""Points every tasador image in Argo CD values files at one tag: each `tag: sha-<hex>` (block or
flow style) becomes `tag: <new tag>`, quoting, comments and the rest of the file kept byte for byte.

    python3 .ci/set-image-tags.py sha-1a2b3c4 deploy/argocd/values/tasador.yaml ...

The release workflow runs it after the images are pushed (standard library only: it runs on the
runner's own Python). It fails, changing nothing, when a file names no such tag, so a renamed key
cannot turn the release into a silent no-op.
"""

import re
import sys
from pathlib import Path

SHA_TAG = re.compile(r"sha-[0-9a-f]{7,40}")
TAG_VALUE = re.compile(
    r"(?P<lead>(?:^[ \t]*(?:-[ \t]+)?|[{,][ \t]*)tag:[ \t]*)"  # a block key, or in a {flow: map}
    r"(?P<quote>[\"']?)sha-[0-9a-f]{7,40}(?P=quote)"
    r"(?=[ \t]*(?:[,}]|#|\r?$))",
    re.MULTILINE,
)


def set_image_tags(text: str, tag: str) -> tuple[str, int]:
    """The text with every `tag: sha-...` set to `tag`, and how many there were."""
    if not SHA_TAG.fullmatch(tag):
        raise ValueError(f"{tag!r} is not a sha-<short sha> tag")
    return TAG_VALUE.subn(
        lambda found: f"{found['lead']}{found['quote']}{tag}{found['quote']}", text
    )


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    tag, paths = argv[0], [Path(arg) for arg in argv[1:]]
    if not SHA_TAG.fullmatch(tag):
        print(f"{tag!r} is not a sha-<short sha> tag", file=sys.stderr)
        return 2
    rewritten = []
    for path in paths:
        text, count = set_image_tags(path.read_bytes().decode(), tag)
        if count == 0:
            print(f"{path} has no `tag: sha-...` line to set", file=sys.stderr)
            return 1
        rewritten.append((path, text, count))
    for path, text, count in rewritten:
        path.write_bytes(text.encode())
        print(f"{path}: {count} image tag(s) set to {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
