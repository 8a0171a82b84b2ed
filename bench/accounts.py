"""What accounts cost: a password hash at OWASP's scrypt parameters, a sign-in, and the database
read the REST guard makes for every request that comes with the session cookie, against the
gateway's lookup of an API key (what a request with a key costs it there).

On a fresh SQLite gateway database (migrated): `--rounds` hashes (wall and CPU time, medians),
`--rounds` sign-ins (the throttle check, the hash, the session insert), then `--lookups` session
checks and as many key lookups (`GatewayStore.find_principal`), medians of 5 batches.

    .venv/bin/python -m bench.accounts [--rounds 5] [--lookups 2000] [--smoke]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from maas.gateway.v1 import admin_pb2 as pb
from services.common import db
from services.gateway import tables
from services.gateway.accounts import SCRYPT_N, Accounts, hash_password
from services.gateway.store import GatewayStore

PASSWORD = "correct horse battery staple"


def _timed(work, count: int) -> tuple[float, float]:
    """(wall, CPU) seconds per call of `work`, over `count` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        work()
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and a cheap hash: figures meaningless")
    args = parser.parse_args()
    n = 2**10 if args.smoke else SCRYPT_N
    rounds, lookups = (2, 50) if args.smoke else (args.rounds, args.lookups)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hashes = [_timed(lambda: hash_password(PASSWORD, n), 1) for _ in range(rounds)]
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    print(
        f"scrypt N={n} r=8 p=1: {statistics.median(w for w, _ in hashes) * 1000:.0f} ms wall, "
        f"{statistics.median(c for _, c in hashes) * 1000:.0f} ms CPU per hash (median of {rounds}); "
        f"peak RSS +{rss_growth:.0f} MiB"
    )

    with tempfile.TemporaryDirectory() as folder:
        engine = db.create_engine(f"sqlite:///{Path(folder) / 'gateway.db'}")
        db.migrate(engine, "gateway", Path(tables.__file__).parent / "migrations")
        store = GatewayStore(engine)
        accounts = Accounts(store.accounts, registration_enabled=True, scrypt_n=n)
        accounts.register("ada@example.com", PASSWORD, tenant_id="ada")
        sign_ins = [_timed(lambda: accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1"), 1) for _ in range(rounds)]
        print(f"sign-in: {statistics.median(w for w, _ in sign_ins) * 1000:.0f} ms wall (median of {rounds})")

        token = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1").token
        _, secret = store.create_api_key("ada", pb.ApiKey())
        batch = max(1, lookups // 5)
        session = statistics.median(_timed(lambda: accounts.session(token), batch)[0] for _ in range(5))
        key = statistics.median(_timed(lambda: store.find_principal(secret), batch)[0] for _ in range(5))
        engine.dispose()
    print(f"per request: session check {session * 1e6:.0f} us, key lookup {key * 1e6:.0f} us (SQLite, wall)")
    print(f"session check / key lookup per request = {session / key:.2f}")


if __name__ == "__main__":
    main()
