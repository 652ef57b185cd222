"""The ctypes mirrors of the C structs have the header's sizes and field
offsets: a small C program, generated from the ctypes field lists, prints
sizeof and offsetof as the compiler sees them."""
import ctypes
import os
import shutil
import subprocess

import pytest

from ffrelax import _lib

from conftest import ROOT


def test_struct_layouts(tmp_path):
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc):
        pytest.skip("no C compiler to read the header's layouts")
    lines = ["#include <stdio.h>", "#include <stddef.h>", '#include "ffrelax.h"', "int main(void) {"]
    want = []
    for name, cls in _lib.STRUCTS.items():
        lines.append(f'    printf("%zu\\n", sizeof({name}));')
        want.append((f"sizeof({name})", ctypes.sizeof(cls)))
        for field, _ in cls._fields_:
            lines.append(f'    printf("%zu\\n", offsetof({name}, {field}));')
            want.append((f"offsetof({name}, {field})", getattr(cls, field).offset))
    lines += ["    return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c11", f"-I{ROOT / 'include'}", str(src), "-o", str(tmp_path / "layout")], check=True)
    got = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True, check=True).stdout.split()
    assert len(got) == len(want)
    bad = [f"{w}: C {g}, ctypes {v}" for (w, v), g in zip(want, map(int, got)) if v != g]
    assert not bad, "ctypes layouts differ from include/ffrelax.h:\n" + "\n".join(bad)


def test_enums_int_sized(tmp_path):
    """The enums are mirrored as c_int: the header's enums must be int-sized."""
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc):
        pytest.skip("no C compiler")
    enums = ["ffr_status", "ffr_rule", "ffr_rho", "ffr_init", "ffr_schedule", "ffr_tol_mode", "ffr_precision",
             "ffr_optimizer", "ffr_train_method", "ffr_target"]
    src = tmp_path / "enums.c"
    src.write_text('#include "ffrelax.h"\n' + "".join(
        f"_Static_assert(sizeof({e}) == sizeof(int), \"{e}\");\n" for e in enums) + "int main(void) { return 0; }\n")
    subprocess.run([cc, "-std=c11", f"-I{ROOT / 'include'}", str(src), "-o", str(tmp_path / "enums")], check=True)
