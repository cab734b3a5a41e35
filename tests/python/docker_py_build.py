"""docker-py's `images.build` against `kujira serve` (POST /build): run by
tests/build_api.rs with DOCKER_HOST set, `busybox` in the store and the build
context's path in KUJIRA_BUILD_CONTEXT. The first wrong answer exits non-zero."""

import os
import sys

import docker
from checks import check
from docker.errors import BuildError


client = docker.from_env(timeout=120)
ctx = os.environ["KUJIRA_BUILD_CONTEXT"]

image, logs = client.images.build(path=ctx, tag="pybuilt:1", buildargs={"WHO": "python"})
logs = list(logs)
text = "".join(l.get("stream", "") for l in logs)
check("build returns the image", "pybuilt:1" in image.tags, image.tags)
check("build streams the steps", "Step 1/" in text, text)
check("build streams RUN output", "building for python" in text, text)
check("aux carries the ID", any(l.get("aux", {}).get("ID") == image.id for l in logs), logs)
out = client.containers.run("pybuilt:1", remove=True)
check("the built image runs", out == b"hello python\n", out)
check("labels from the build", image.labels.get("built.by") == "docker-py", image.labels)

# Unchanged: every step comes from the cache, the same image comes back.
again, logs = client.images.build(path=ctx, tag="pybuilt:1", buildargs={"WHO": "python"})
text = "".join(l.get("stream", "") for l in logs)
check("rebuild is the same image", again.id == image.id, (again.id, image.id))
check("rebuild uses the cache", "Using cache" in text and "building for python" not in text, text)

# A failing RUN raises BuildError with the legacy builder's message.
try:
    client.images.build(path=ctx, dockerfile="Dockerfile.fail", tag="pybroken")
    check("failing build raises", False)
except BuildError as e:
    check("failing build raises", "returned a non-zero code: 7" in str(e), str(e))

pruned = client.api.prune_builds()
check("prune_builds answers", "SpaceReclaimed" in pruned, pruned)
print("all ok")
