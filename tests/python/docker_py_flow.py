"""docker-py (PyPI `docker`) against `kujira serve`: run by tests/api_python.rs with
DOCKER_HOST pointing at the server and `busybox`/`nginx` on its registry mirror.
Each check asserts what docker-py returns; the first failure exits non-zero."""

import io
import json
import sys
import tarfile
import time

import docker
from checks import check
from docker.errors import APIError, ImageNotFound, NotFound


client = docker.from_env(timeout=60)
check("ping", client.ping() is True)
check("version", client.version()["ApiVersion"].startswith("1."))

img = client.images.pull("busybox", tag="latest")
check("pull", "busybox:latest" in img.tags, img.tags)
check("images.list", any("busybox:latest" in i.tags for i in client.images.list()))
check("images.get", client.images.get("busybox").id == img.id)

# Detached run, streamed logs, exec with stream and demux.
c = client.containers.run(
    "busybox", ["sh", "-c", "echo one; echo two >&2; exec sleep 600"], detach=True, name="pyweb"
)
deadline = time.time() + 10
while b"one" not in c.logs() and time.time() < deadline:
    time.sleep(0.05)
check("logs", c.logs(stdout=True, stderr=False) == b"one\n", c.logs())
stream = c.logs(stream=True, follow=True)
first = next(stream)
check("logs streamed", first in (b"one\n", b"two\n"), first)
c.reload()
check("container status", c.status == "running", c.status)
code, out = c.exec_run(["sh", "-c", "echo ex-out; echo ex-err >&2; exit 3"], demux=True)
check("exec_run demux", code == 3 and out == (b"ex-out\n", b"ex-err\n"), (code, out))
res = c.exec_run(["sh", "-c", "for i in 1 2 3; do echo $i; done"], stream=True)
chunks = b"".join(res.output)
check("exec_run stream", chunks == b"1\n2\n3\n", chunks)

# put_archive / get_archive.
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    data = b"archived\n"
    info = tarfile.TarInfo("note.txt")
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
check("put_archive", c.put_archive("/tmp", buf.getvalue()) is True)
bits, stat = c.get_archive("/tmp/note.txt")
raw = b"".join(bits)
with tarfile.open(fileobj=io.BytesIO(raw)) as t:
    got = t.extractfile("note.txt").read()
check("get_archive", got == b"archived\n" and stat["name"] == "note.txt", stat)
try:
    c.get_archive("/nonexistent")
    check("get_archive missing", False, "no error")
except NotFound:
    check("get_archive missing", True)

# stats, one reading.
s = c.stats(stream=False)
check("stats", s["memory_stats"]["usage"] > 0 and "cpu_stats" in s, list(s))

# commit, and the committed image runs.
snap = c.commit(repository="pysnap", tag="v1")
check("commit", "pysnap:v1" in snap.tags, snap.tags)
out = client.containers.run("pysnap:v1", ["cat", "/tmp/note.txt"], remove=True)
check("run attached from the commit", out == b"archived\n", out)

# Conflicts and missing things are docker-py's exceptions.
try:
    c.remove()
    check("409 on removing a running container", False, "no error")
except APIError as e:
    check("409 on removing a running container", e.status_code == 409, e)
try:
    client.containers.get("nosuch")
    check("NotFound", False, "no error")
except NotFound:
    check("NotFound", True)
try:
    client.images.get("nosuch:1")
    check("ImageNotFound", False, "no error")
except ImageNotFound:
    check("ImageNotFound", True)

c.stop(timeout=1)
check("wait", c.wait(timeout=10)["StatusCode"] in (137, 143), c.wait())
c.remove()

# Attached run with an exit code, and wait.
w = client.containers.run("busybox", ["sh", "-c", "exit 4"], detach=True)
check("wait exit code", w.wait(timeout=10)["StatusCode"] == 4)
w.remove()

# save and load.
data = b"".join(client.images.get("pysnap:v1").save(named=True))
check("save", len(data) > 1024)
client.images.remove("pysnap:v1")
loaded = client.images.load(data)
check("load", any("pysnap:v1" in i.tags for i in loaded), [i.tags for i in loaded])

# volumes.
v = client.volumes.create(name="pyvol", labels={"team": "kujira"})
check("volumes.create", v.name == "pyvol")
check("volumes.list", [x.name for x in client.volumes.list(filters={"label": "team=kujira"})] == ["pyvol"])
check("volumes.get", client.volumes.get("pyvol").attrs["Labels"] == {"team": "kujira"})

# Mounts (HostConfig.Mounts) and a string command: a named volume and a tmpfs by
# docker.types.Mount, environment as a dict, ports as docker-py sends them.
from docker.types import Mount
out = client.containers.run(
    "busybox",
    "sh -c 'echo $GREETING > /data/f; cat /data/f; grep -c \" /scratch \" /proc/mounts'",
    mounts=[Mount("/data", "pyvol"), Mount("/scratch", None, type="tmpfs", tmpfs_size=1 << 20)],
    environment={"GREETING": "mounted"},
    remove=True,
)
check("run with mounts", out == b"mounted\n1\n", out)
check("volume kept the file", client.containers.run(
    "busybox", ["cat", "/v/f"], volumes={"pyvol": {"bind": "/v", "mode": "ro"}}, remove=True) == b"mounted\n")
pc = client.containers.create("busybox", "true", ports={"80/tcp": ("127.0.0.1", None)},
                              mounts=[Mount("/data", "pyvol", read_only=True)])
hc = pc.attrs["HostConfig"]
check("create HostConfig", hc["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
      and hc["Mounts"][0]["Target"] == "/data" and hc["Mounts"][0]["ReadOnly"] is True, hc)
pc.remove()
v.remove()

# networks: a user network, a container on it found by its alias, live
# connect and disconnect, the 403 for removing one in use, prune.
net = client.networks.create("pynet", driver="bridge", labels={"team": "kujira"})
check("networks.create", net.name == "pynet" and len(net.id) == 64)
check("networks.list", [n.name for n in client.networks.list(filters={"label": "team=kujira"})] == ["pynet"])
srv = client.containers.run("busybox", "sleep 60", detach=True, name="pysrv", network="pynet")
client.api.disconnect_container_from_network(srv.id, "pynet")
client.api.connect_container_to_network(srv.id, "pynet", aliases=["pyalias"])
net.reload()
check("networks.containers", [c.id for c in net.containers] == [srv.id], net.attrs["Containers"])
probe = ("sh -c 'for i in 1 2 3; do busybox ping -c1 -W2 pyalias >/dev/null && { echo reached; exit 0; }; done;"
         " busybox nslookup pyalias; busybox ip -4 -o addr; busybox ip route'")
out = client.containers.run("busybox", probe, network="pynet", remove=True)
check("networks.dns", out == b"reached\n", out)
try:
    net.remove()
    check("networks.remove in use refused", False)
except docker.errors.APIError as e:
    check("networks.remove in use refused", e.status_code == 403 and "active endpoints" in str(e), e)
srv.remove(force=True)
client.networks.create("pyunusednet")
np = client.networks.prune()
check("networks.prune", sorted(np["NetworksDeleted"] or []) == ["pynet", "pyunusednet"], np)
try:
    client.networks.get("pynet")
    check("networks.get gone", False)
except docker.errors.NotFound:
    check("networks.get gone", True)

# prunes.
client.containers.run("busybox", "true", name="pystopped")
pr = client.containers.prune()
check("containers.prune", any(len(x) == 64 for x in pr["ContainersDeleted"] or []), pr)
client.volumes.create(name="pyunused")
vp = client.volumes.prune(filters={"all": "true"})
check("volumes.prune", "pyunused" in (vp["VolumesDeleted"] or []), vp)
client.images.remove("pysnap:v1")
ip = client.images.prune(filters={"dangling": False})
check("images.prune", "SpaceReclaimed" in ip, ip)
print("all docker-py checks passed")
