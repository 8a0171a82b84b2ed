"""Regenerate the Python code for protos/ (or check that it is fresh with --check).

The generator is pinned and runs in a virtualenv of its own (.ci/tools/genproto-<version>, made on
first use): grpcio-tools 1.62 writes protobuf 4.25-style code, which carries no runtime version check
and runs on every protobuf runtime from 5.26 to 7.x, so users keep the protobuf their other clients
need. The dev environment's own protobuf (7.x) could not host that generator.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
# google/api comes from googleapis-common-protos at run time; only ours is generated.
OWN = "maas"
GENERATOR = "grpcio-tools==1.62.3"
GENERATOR_ENV = ROOT / ".ci" / "tools" / f"genproto-{GENERATOR.split('==')[1]}"
# Files of these proto packages are loaded into a descriptor pool of their own, not the default one:
# tritonclient and KServe compile the same full names (`inference.ModelInferRequest`) from other file
# names, and one pool cannot hold both, so the SDK and those clients could not share a process.
PRIVATE_POOL_PACKAGES = {"inference": "maas.inference.v2._pool"}
_DEFAULT_POOL_IMPORT = "from google.protobuf import descriptor_pool as _descriptor_pool\n"


def _generator_python() -> Path:
    python = GENERATOR_ENV / "bin" / "python"
    if not python.exists():
        print(f"setting up the pinned generator ({GENERATOR}) in {GENERATOR_ENV}", file=sys.stderr)
        venv.create(GENERATOR_ENV, with_pip=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", GENERATOR], check=True)
    return python


def _generate(out: Path) -> None:
    files = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / OWN).rglob("*.proto"))
    script = (
        "import sys, pathlib, grpc_tools\n"
        "from grpc_tools import protoc\n"
        "well_known = pathlib.Path(grpc_tools.__file__).parent / '_proto'\n"
        "sys.exit(protoc.main(['protoc', f'-I{well_known}', *sys.argv[1:]]))\n"
    )
    args = [f"-I{PROTOS}", f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", *files]
    if subprocess.run([_generator_python(), "-c", script, *args]).returncode != 0:
        raise SystemExit("protoc failed")
    for proto in files:
        _use_private_pool(PROTOS / proto, out / proto.replace(".proto", "_pb2.py"))
    for directory in [out / OWN, *(p for p in (out / OWN).rglob("*") if p.is_dir())]:
        init = directory / "__init__.py"
        if not init.exists() and directory != out / OWN:
            init.write_text("")


def _use_private_pool(proto: Path, generated: Path) -> None:
    package = re.search(r"^package\s+([\w.]+)\s*;", proto.read_text(), re.MULTILINE)
    module = PRIVATE_POOL_PACKAGES.get(package.group(1) if package else "")
    if module is None:
        return
    code = generated.read_text()
    if _DEFAULT_POOL_IMPORT not in code or "_descriptor_pool.Default()" not in code:
        raise SystemExit(f"{generated.name}: the generator's output changed shape; update {__file__}")
    code = code.replace(_DEFAULT_POOL_IMPORT, f"from {module} import POOL as _private_pool\n")
    generated.write_text(code.replace("_descriptor_pool.Default()", "_private_pool"))


def _generated_files(base: Path) -> set[str]:
    found = set()
    for pattern in ("*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py"):
        found |= {str(p.relative_to(base)) for p in (base / OWN).rglob(pattern)}
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
