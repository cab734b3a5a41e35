"""The one assertion the Python client scripts share: print `ok NAME`, or
`FAIL NAME: detail` and exit non-zero at the first wrong answer."""

import sys


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name}: {detail}", flush=True)
        sys.exit(1)
    print(f"ok {name}", flush=True)
