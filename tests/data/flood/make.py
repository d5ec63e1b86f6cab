"""Builds the flood: an unanswered tiny notebook whose free cell tries to send ~8 GB to the grader.

Run `python tests/data/flood/make.py` after changing it. Every way a kernel can push bytes at
the grader, in one cell: result payloads that parse into millions of objects, one 400 MiB print,
and one message of 7,000 frames of 1 MiB (built from a single buffer, so it costs the kernel
1 MiB). tests/test_flood.py grades it and measures the grader's memory.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "engine"))
from make import STUB, submission, write  # noqa: E402

FLOOD = """\
from IPython.display import display
for _ in range(16):  # 32 MB each on the wire, 8 million lists each once parsed
    display({"application/vnd.autograder.result+json": [[]] * 8_000_000}, raw=True)
print("x" * (400 * 2**20))
kernel = get_ipython().kernel
chunk = memoryview(b"z" * 2**20)
kernel.session.send(kernel.iopub_socket, "stream", {"name": "stdout", "text": "flood"},
                    parent=kernel.get_parent(), buffers=[chunk] * 7000)
import time
time.sleep(5)
"""


def main() -> None:
    write(submission(dict(STUB), [FLOOD]), HERE / "kernel_flood.ipynb")


if __name__ == "__main__":
    main()
