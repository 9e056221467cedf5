#!/usr/bin/env python3
"""The Python dsg_lib (PyPI ``devsetgo-lib``) counterpart of ``examples/bench.rs``.

The same model (the seed's user: SchemaBase + unique indexed ``name`` String(100) +
nullable ``color``), the same data and the same workloads, done through the Python
library's own API the way its users call it: ``DBConfig`` -> ``AsyncDatabase`` ->
``DatabaseOperations`` with SQLAlchemy ``select()`` statements and ORM objects.

    python bench.py                                                   # SQLite in memory
    python bench.py --uri postgresql+asyncpg://postgres@127.0.0.1:5432/test
    python bench.py --uri mysql+aiomysql://root@127.0.0.1:3306/test
    python bench.py --quick                                           # N=2000, P=200, R=3

Prints a header line, then one line per workload: ``label  median ms [min–max]``.

The library reports most failures as a returned ``{"error": ..., "details": ...}``
dict instead of raising; every workload checks what it got back and exits non-zero
if a call did not do its work.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import warnings

from sqlalchemy import Column, String, Text, delete, select
from sqlalchemy.engine.url import make_url

from dsg_lib import LOGGER as DSG_LOGGER
from dsg_lib import __version__ as dsg_version
from dsg_lib.async_database_functions import (
    async_database,
    base_schema,
    database_config,
    database_operations,
)

TABLE = "py_bench_users"
DEFAULT_URI = "sqlite+aiosqlite:///:memory:?cache=shared"
COLORS = ("red", "blue", "green")

# create_many and update_one are marked deprecated in the library (in favour of
# execute_many / execute_one); they are still the ORM-object API the brief asks for.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=__name__)
# The default URI is the library's documented one; SQLAlchemy ignores its
# ?cache=shared (it would need uri=true) and serves :memory: from one connection
# (StaticPool), which is what the library's users get. Keep stderr quiet about it.
warnings.filterwarnings("ignore", message=r"Query string argument\(s\) 'cache'")


class BenchFailure(RuntimeError):
    """A workload did not do its work (or the library returned an error dict)."""


def check(ok: bool, what: str, got=None) -> None:
    if not ok:
        detail = "" if got is None else f": got {got!r}"[:500]
        raise BenchFailure(f"{what}{detail}")


def is_error(result) -> bool:
    return isinstance(result, database_operations.DatabaseErrorResult) or (
        isinstance(result, dict) and "error" in result and "details" in result
    )


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--uri", default=DEFAULT_URI, help=f"database URI (default {DEFAULT_URI})")
    p.add_argument("--rows", type=int, default=10_000, help="N rows (default 10000)")
    p.add_argument("--points", type=int, default=1_000, help="P point operations (default 1000)")
    p.add_argument("--rounds", type=int, default=5, help="R samples per workload (default 5)")
    p.add_argument("--quick", action="store_true", help="N=2000, P=200, R=3")
    args = p.parse_args()
    if args.quick:
        args.rows, args.points, args.rounds = 2_000, 200, 3
    check(args.rows >= 1 and args.points >= 1 and args.rounds >= 1, "--rows/--points/--rounds must be >= 1")
    return args


def engine_config(uri: str, dialect: str) -> dict:
    """DBConfig keys; DBConfig rejects keys it does not list for the dialect
    (SQLite takes only echo/future/pool_recycle, no pool_size)."""
    config = {"database_uri": uri, "echo": False, "future": True}
    if dialect in ("postgresql", "mysql"):
        # Like the Rust bench: one pool of 15, no liveness test before checkout.
        config.update(pool_pre_ping=False, pool_size=15, max_overflow=0, pool_timeout=30)
    return config


def define_user(base, dialect: str):
    """The seed's user, on the SchemaBase mixin that fits the dialect."""
    mixin = {
        "sqlite": base_schema.SchemaBaseSQLite,
        "postgresql": base_schema.SchemaBasePostgres,
        "mysql": base_schema.SchemaBaseMySQL,
    }.get(dialect)
    if mixin is None:
        raise SystemExit(f"unsupported dialect {dialect!r}: use sqlite, postgresql or mysql")
    # MySQL/MariaDB cannot create a VARCHAR without a length, so the unsized
    # string is TEXT there (the Rust crate uses LONGTEXT); elsewhere it is String.
    color_type = Text if dialect == "mysql" else String

    class User(mixin, base):
        __tablename__ = TABLE
        name = Column(String(100), unique=True, index=True)
        color = Column(color_type, nullable=True)

    return User


def stats(samples: list[float]) -> tuple[float, float, float]:
    s = sorted(samples)
    return s[len(s) // 2], s[0], s[-1]


def report(label: str, samples_s: list[float]) -> None:
    med, lo, hi = (x * 1e3 for x in stats(samples_s))
    print(f"{label:<34} {med:>9.2f} ms [{lo:>8.2f}–{hi:<8.2f}]", flush=True)


async def bench(args: argparse.Namespace) -> None:
    dialect = make_url(args.uri).get_backend_name()
    db_config = database_config.DBConfig(engine_config(args.uri, dialect))
    async_db = async_database.AsyncDatabase(db_config)
    db_ops = database_operations.DatabaseOperations(async_db)
    User = define_user(async_db.Base, dialect)
    engine = db_config.engine
    n, points, rounds = args.rows, args.points, args.rounds

    # The library has create_tables but no drop: drop through its engine.
    async def drop_table() -> None:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync_conn: User.__table__.drop(sync_conn, checkfirst=True))

    try:
        await drop_table()  # a leftover from an interrupted run
        await async_db.create_tables()

        print(
            f"{engine.dialect.name} ({engine.dialect.driver}, {type(engine.pool).__name__}), "
            f"dsg_lib {dsg_version} Python — "
            f"{n} rows, {points} point operations, {rounds} rounds",
            flush=True,
        )
        print(f"{'workload':<34} {'median':>9}    {'[min–max]':<19}", flush=True)

        # ---- create_many of N: the table is emptied (untimed) before every sample.
        samples = []
        for rnd in range(rounds):
            res = await db_ops.execute_one(delete(User))
            check(res == "complete", "DELETE before create_many failed", res)
            users = [User(name=f"user-{rnd}-{i}", color=COLORS[i % 3]) for i in range(n)]
            start = time.perf_counter()
            created = await db_ops.create_many(users)
            samples.append(time.perf_counter() - start)
            check(not is_error(created) and isinstance(created, list) and len(created) == n,
                  f"create_many did not return the {n} rows", created if is_error(created) else type(created))
            stored = await db_ops.count_query(select(User))
            check(stored == n, f"create_many stored {stored} rows, not {n}")
        report(f"create_many of {n}", samples)

        ids = await db_ops.read_query(select(User.pkid))
        check(not is_error(ids) and len(ids) == n and all(isinstance(i, str) for i in ids),
              "reading the pkids failed", ids if is_error(ids) else len(ids))

        # ---- read_query of all N rows into User objects.
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            rows = await db_ops.read_query(select(User))
            samples.append(time.perf_counter() - start)
            check(not is_error(rows) and len(rows) == n and isinstance(rows[0], User),
                  f"read_query did not return {n} User rows", rows if is_error(rows) else len(rows))
        report(f"read_query of all {n}", samples)

        # ---- count_query with a filter.
        expected_red = (n + 2) // 3
        samples = []
        for _ in range(rounds):
            query = select(User).where(User.color == "red")
            start = time.perf_counter()
            total = await db_ops.count_query(query)
            samples.append(time.perf_counter() - start)
            check(total == expected_red, f"count_query: expected {expected_red}", total)
        report("count_query with a filter", samples)

        # ---- paginate_query page 5 of 100 (count + page in one session).
        expected_items = min(100, max(0, n - 400))
        samples = []
        for _ in range(rounds):
            query = select(User).order_by(User.name)
            start = time.perf_counter()
            page = await db_ops.paginate_query(query, page=5, page_size=100)
            samples.append(time.perf_counter() - start)
            check(not is_error(page) and page["total"] == n and len(page["items"]) == expected_items
                  and all(isinstance(u, User) for u in page["items"]),
                  f"paginate_query: expected {expected_items} of {n}",
                  page if is_error(page) else {k: v for k, v in page.items() if k != "items"})
        report("paginate_query page 5 of 100", samples)

        # ---- P × read_one_record by pkid, one after another.
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            for i in range(points):
                pkid = ids[i % n]
                user = await db_ops.read_one_record(select(User).where(User.pkid == pkid))
                check(isinstance(user, User) and user.pkid == pkid, f"read_one_record({pkid}) found nothing", user)
            samples.append(time.perf_counter() - start)
        report(f"{points} × read_one_record by pkid", samples)

        # ---- P × update_one by pkid, a new color each time.
        samples = []
        for rnd in range(rounds):
            start = time.perf_counter()
            for i in range(points):
                color = f"c{rnd}-{i}"
                user = await db_ops.update_one(User, ids[i % n], {"color": color})
                check(isinstance(user, User) and user.color == color, f"update_one({ids[i % n]}) failed", user)
            samples.append(time.perf_counter() - start)
        report(f"{points} × update_one by pkid", samples)

        # ---- P point reads, 16 in flight.
        sem = asyncio.Semaphore(16)

        async def point_read(i: int):
            async with sem:
                return await db_ops.read_one_record(select(User).where(User.pkid == ids[i % n]))

        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            results = await asyncio.gather(*(point_read(i) for i in range(points)))
            samples.append(time.perf_counter() - start)
            found = sum(isinstance(r, User) for r in results)
            errors = [r for r in results if not isinstance(r, User)]
            check(found == points, f"concurrent read_one_record found {found} of {points}", errors[:3])
        report(f"{points} point reads, 16 in flight", samples)
    finally:
        try:
            await drop_table()
        finally:
            await async_db.disconnect()


def main() -> int:
    args = parse_args()
    # The library logs its errors to a logger with only a NullHandler: show them.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dsg_lib %(levelname)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    DSG_LOGGER.addHandler(handler)
    try:
        asyncio.run(bench(args))
    except BenchFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
