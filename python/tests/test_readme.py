"""The README's Python example runs as printed (on the MNIST digits, when
data/mnist is there)."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT


def test_readme_example(tmp_path):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README.md has no python example"
    if not (ROOT / "data" / "mnist").exists():
        pytest.skip("no MNIST in data/mnist (sh scripts/get-data.sh)")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", blocks[0]], cwd=ROOT, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    out = re.search(r"```python\n.*?```\n\n```\n(.*?)```", text, re.S)
    if out:  # the output printed under the example, numbers aside (they depend on the CPU's kernel)
        def skeleton(t):
            return re.sub(r"[-+]?\d[\d.e+-]*", "#", t)
        assert skeleton(p.stdout) == skeleton(out.group(1))
