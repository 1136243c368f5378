"""The floor: Polars reads every CSV of the export and DuckDB stores the frames, with no checks.

`python -m benchmarks.floor EXPORT_DIR DB_PATH` prints JSON: seconds and rows per table. This is the
least any loader of these files into DuckDB has to do; `kam load` is compared with it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb
import polars as pl


def load_floor(export_dir: Path, db_path: Path) -> dict:
    """Read each CSV with Polars (types inferred) and store it in a new DuckDB file, one table at a time."""
    start = time.perf_counter()
    rows: dict[str, int] = {}
    con = duckdb.connect(str(db_path))
    try:
        for path in sorted(Path(export_dir).glob("*.csv")):
            frame = pl.read_csv(path, try_parse_dates=True)
            con.register("frame", frame)
            con.execute(f'CREATE TABLE "{path.stem}" AS SELECT * FROM frame').fetchall()
            con.unregister("frame")
            rows[path.stem] = frame.height
            del frame
        con.execute("CHECKPOINT").fetchall()
    finally:
        con.close()
    return {"seconds": time.perf_counter() - start, "rows": rows}


def main(argv: list[str]) -> int:
    export_dir, db_path = Path(argv[0]), Path(argv[1])
    db_path.unlink(missing_ok=True)
    print(json.dumps(load_floor(export_dir, db_path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
