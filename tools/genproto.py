"""Regenerate the Python code for protos/ (or check that it is fresh with --check)."""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
# google/api comes from googleapis-common-protos at run time; only ours is generated.
OWN = "maas"


def _generate(out: Path) -> None:
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    files = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / OWN).rglob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for directory in [out / OWN, *(p for p in (out / OWN).rglob("*") if p.is_dir())]:
        init = directory / "__init__.py"
        if not init.exists() and directory != out / OWN:
            init.write_text("")


def _generated_files(base: Path) -> set[str]:
    found = set()
    for pattern in ("*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py"):
        found |= {str(p.relative_to(base)) for p in (base / OWN).rglob(pattern)}
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        _generate(out)
        fresh = _generated_files(out)
        if args.check:
            committed = _generated_files(ROOT)
            stale = sorted(
                name
                for name in fresh | committed
                if name not in fresh or name not in committed or not filecmp.cmp(out / name, ROOT / name, shallow=False)
            )
            if stale:
                print("generated code is stale; run `python tools/genproto.py`:", *stale, sep="\n  ")
                return 1
            print(f"generated code is fresh ({len(fresh)} files)")
            return 0
        for name in _generated_files(ROOT) - fresh:
            (ROOT / name).unlink()
        for name in sorted(fresh):
            target = ROOT / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / name, target)
            init = target.parent / "__init__.py"
            if not init.exists():
                init.write_text("")
        print(f"generated {len(fresh)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
