"""testcontainers-python against `kujira serve`: a web server container with an
exposed port, waited for by its log line, reached through the mapped port."""

import sys
import urllib.request

from testcontainers.core.container import DockerContainer
from testcontainers.core.waiting_utils import wait_for_logs

with DockerContainer("nginx:latest").with_command(
    ["sh", "-c", "echo serving; exec httpd -f -p 80 -h /www"]
).with_exposed_ports(80) as web:
    wait_for_logs(web, "serving", timeout=20)
    host = web.get_container_host_ip()
    port = web.get_exposed_port(80)
    body = urllib.request.urlopen(f"http://{host}:{port}/", timeout=10).read()
    if b"Welcome to kujira!" not in body:
        print(f"FAIL: {body!r}")
        sys.exit(1)
print("testcontainers reached the web server")
