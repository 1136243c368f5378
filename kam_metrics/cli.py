"""The `kam` command: demo data, loads, status, quarantine, reports, mapping templates, the programme store, the
e-mail digest, the app.

Exit codes: 0 success; 1 a check failed (`kam verify`) or the digest could not be delivered (`kam digest`);
2 the input or settings could not be used (a whole-file problem, a missing snapshot, a bad option value),
with one message naming the file and column.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from kam_metrics import access
from kam_metrics.load.importers.base import LoadError
from kam_metrics.settings import (
    DEFAULT_REPORTING_CURRENCY, ENV_DATA_DIR, SettingsError, load_settings, resolve_data_dir,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_ACTOR = "KAM_ACTOR"
DEFAULT_DEMO_DIR = "demo_export"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (expected YYYY-MM-DD)") from None


def _add_filter_arguments(p: argparse.ArgumentParser,
                          kam_owner_help: str = "only accounts of this KAM owner (repeatable)") -> None:
    """The as_of and the account filters that `report`, `pack` and `digest` share (the app's sidebar)."""
    p.add_argument("--as-of", type=_date, help="figures as of this date (default: latest activity or revenue date)")
    p.add_argument("--region", action="append", default=[], help="only accounts in this region (repeatable)")
    p.add_argument("--segment", action="append", default=[], help="only accounts in this segment (repeatable)")
    p.add_argument("--kam-owner", action="append", default=[], help=kam_owner_help)
    p.add_argument("--key-only", action="store_true", help="only key accounts")


def _filters(args: argparse.Namespace):
    """The account filters given by `_add_filter_arguments`' options."""
    from kam_metrics.filters import Filters

    return Filters(regions=tuple(args.region), segments=tuple(args.segment), kam_owners=tuple(args.kam_owner),
                   key_only=args.key_only)


def build_parser() -> argparse.ArgumentParser:
    # The global options work before or after the command; after it they must not reset what was
    # given before it, hence SUPPRESS on the subcommands' copy.
    top = argparse.ArgumentParser(add_help=False)
    top.add_argument("--data-dir", help=f"warehouse folder (default: ${ENV_DATA_DIR} or ./data)")
    top.add_argument("--config", help="settings file (default: kam.toml in the data directory)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help=f"warehouse folder (default: ${ENV_DATA_DIR} or ./data)")
    common.add_argument("--config", default=argparse.SUPPRESS, help="settings file (default: kam.toml in the data directory)")

    parser = argparse.ArgumentParser(
        prog="kam",
        description="KAM Health: load CRM exports into a checked DuckDB warehouse and report on your key accounts.",
        parents=[top],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", parents=[common], help="write the demo export (or a benchmark export with --scale)")
    p.add_argument("out_dir", nargs="?", default=DEFAULT_DEMO_DIR, help=f"output folder (default: {DEFAULT_DEMO_DIR})")
    p.add_argument("--scale", type=float, help="write a benchmark export at this fraction of the reference size "
                   "(1.0 = 10,000 accounts, 10 million activities)")

    p = sub.add_parser("load", parents=[common], help="load an export folder or .zip into a new snapshot")
    p.add_argument("path", help="export folder or .zip")
    p.add_argument("--format", default="auto", choices=["auto", "kam", "salesforce", "hubspot"],
                   help="export format (default: auto-detect and say what was chosen)")
    p.add_argument("--mapping", help="mapping file (TOML) for a CRM export; see `kam mapping init`")

    p = sub.add_parser("status", parents=[common], help="the current snapshot, as_of and rows per table")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("quarantine", parents=[common], help="the rows the last load rejected, with reasons")
    p.add_argument("--table", help="only this table")
    p.add_argument("--format", default="csv", choices=["csv", "json"])
    p.add_argument("--out", help="write to this file instead of standard output")

    p = sub.add_parser("report", parents=[common], help="metrics as CSV, Parquet or JSON (column names = METRICS.md keys)")
    p.add_argument("kind", choices=["accounts", "programme", "goals", "whale", "health-history", "engagement-weekly",
                                    "cost-to-serve", "alerts", "backtest"],
                   help="backtest: the score check (does health warn before revenue shrinks?) as key/value rows")
    _add_filter_arguments(p)
    p.add_argument("--weights", help="backtest only: health weights for this check instead of the settings', "
                   "e.g. recency=15,trend=15,relationship=30 (components not named keep their setting)")
    p.add_argument("--format", default="csv", choices=["csv", "parquet", "json"])
    p.add_argument("--out", help="write to this file instead of standard output")

    p = sub.add_parser("mapping", parents=[common], help="mapping files for CRM exports")
    msub = p.add_subparsers(dest="mapping_command", required=True, metavar="ACTION")
    m = msub.add_parser("init", parents=[common], help="print (or write) the default mapping, commented, for editing")
    m.add_argument("--format", required=True, choices=["salesforce", "hubspot"])
    m.add_argument("--out", help="write to this file instead of standard output")

    p = sub.add_parser("verify", parents=[common], help="check the current snapshot: counts add up, checksums match")

    p = sub.add_parser("settings", parents=[common], help="print the settings in force as TOML")

    p = sub.add_parser("programme", parents=[common],
                       help="the programme store: plans, reviews, goals, actions, wallet, profiles, contact roles, notes")
    psub = p.add_subparsers(dest="programme_command", required=True, metavar="ACTION")
    m = psub.add_parser("import", parents=[common], help="import a folder of programme CSVs (or one <table>.csv) by "
                        "record id; any bad row: every error on standard error, exit 2, nothing written")
    m.add_argument("path", help="a folder holding <table>.csv files, or one such file")
    m.add_argument("--actor", help=f"who makes the change (default: ${ENV_ACTOR}, else your user name)")
    m = psub.add_parser("export", parents=[common], help="write every programme table as <table>.csv (what import reads)")
    m.add_argument("out_dir", help="output folder")
    m = psub.add_parser("log", parents=[common], help="every change, newest first: who, when, table, record, old and new values")
    m.add_argument("--account", help="only the changes of records of this account")
    m.add_argument("--format", default="csv", choices=["csv", "json"])
    m.add_argument("--out", help="write to this file instead of standard output")

    p = sub.add_parser("pack", parents=[common], help="the weekly pack: the Weekly review and one page per key account, "
                       "as one HTML file or a PDF (the PDF and the charts need Debian's chromium)")
    p.add_argument("--out", required=True, help="FILE.html (self-contained) or FILE.pdf")
    _add_filter_arguments(p, kam_owner_help="only accounts of this KAM owner (repeatable): a KAM's own pack")
    p.add_argument("--paper", default="a4", choices=["a4", "letter"], help="PDF paper size (default: a4)")

    p = sub.add_parser("digest", parents=[common], help="e-mail the weekly pack: its cover as HTML with inline charts "
                       "(and as plain text), the pack attached; SMTP server from [smtp] in kam.toml")
    p.add_argument("--to", action="append", required=True, metavar="ADDR[,ADDR…]",
                   help="recipients, comma-separated and/or repeated")
    _add_filter_arguments(p)
    p.add_argument("--attach", default="pdf", choices=["pdf", "html", "none"],
                   help="the pack attached as PDF (needs Chromium), HTML, or not at all (default: pdf)")
    p.add_argument("--paper", default="a4", choices=["a4", "letter"], help="paper size of the PDF (default: a4)")
    p.add_argument("--smtp-host", help="SMTP server instead of smtp.host of the settings")
    p.add_argument("--smtp-port", type=int, help="SMTP port instead of smtp.port of the settings")
    p.add_argument("--subject", help="subject line (default: the pack's, e.g. 'KAM weekly pack 2026-11-20')")

    p = sub.add_parser("app", parents=[common], help="start the dashboard (loads the demo data on first run)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--no-demo", action="store_true", help="do not load the demo export when there is no snapshot")
    p.add_argument("--require-login", action="store_true",
                   help="refuse to start unless sign-in ([auth] in secrets.toml) and roles ([access]) are configured")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data_dir = resolve_data_dir(args.data_dir)
    try:
        settings = load_settings(args.config, data_dir)
        handler = COMMANDS[args.command]
        return handler(args, data_dir, settings) or 0
    except (LoadError, SettingsError) as exc:
        print(f"kam: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `kam quarantine | head`
        return 0


def cmd_demo(args, data_dir: Path, settings) -> int:
    out = Path(args.out_dir)
    if args.scale is not None:
        from kam_metrics.generators.scale import write_scale_export

        counts = write_scale_export(out, scale=args.scale)
    else:
        from kam_metrics.generators.demo import write_demo

        counts = write_demo(out)
    total = sum(counts.values())
    print(f"Wrote {total:,} rows in {len(counts)} tables to {out}/")
    for table, n in counts.items():
        print(f"  {table:<15}{n:>12,}")
    print(f"Load it with: kam load {out}")
    return 0


def cmd_load(args, data_dir: Path, settings) -> int:
    """Load an export: its progress on standard error (a status line on a terminal, plain lines otherwise), the
    load report on standard output."""
    from kam_metrics.load.pipeline import load_export
    from kam_metrics.load.terminal import TerminalProgress

    with TerminalProgress(sys.stderr) as progress:
        report = load_export(args.path, data_dir, fmt=args.format, settings=settings, mapping=args.mapping,
                             on_event=progress)
    print(report.as_text())
    return 0


def status_dict(data_dir: Path, settings=None) -> dict:
    """What `kam status --json` prints (the tables the programme store adds count as carried)."""
    from kam_metrics.load import warehouse
    from kam_metrics.programme import overlay

    from kam_metrics.load.contract import TABLE_ORDER, TABLES
    from kam_metrics.metrics import default_as_of
    from kam_metrics.metrics.presence import presence

    con = overlay.connect_current(data_dir, settings)
    try:
        info = warehouse.snapshot_info(con)
        counts = warehouse.table_counts(con)
        as_of = default_as_of(con)  # the same as_of the app and `kam report` use
        carried = presence(con)
    finally:
        con.close()
    return {
        "load_id": info.get("load_id"),
        "as_of": as_of.isoformat(),
        "as_of_from_data": bool(info.get("as_of_default")),
        "export_date": info.get("export_date") or None,
        "reporting_currency": info.get("reporting_currency") or DEFAULT_REPORTING_CURRENCY,
        "reporting_currency_source": info.get("reporting_currency_source") or None,
        "format": info.get("format"),
        "source_path": info.get("source_path"),
        "tables": {
            row["table"]: {k: row[k] for k in ("read", "loaded", "quarantined", "skipped")}
            for row in counts.iter_rows(named=True)
            if row["is_present"]
        },
        # What the export did not carry (METRICS.md "Data that is not there"): the figures built on it are null.
        "absent_tables": [t for t in TABLE_ORDER if not carried.has(t)],
        "absent_columns": [f"{t}.{c.name}" for t in TABLE_ORDER if carried.has(t) for c in TABLES[t].columns
                           if not carried.has(t, c.name)],
        "leftovers": [p.name for p in warehouse.leftovers(data_dir)],
    }


def cmd_status(args, data_dir: Path, settings) -> int:
    status = status_dict(data_dir, settings)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"Data directory: {data_dir}")
    print(f"Snapshot:       {status['load_id']} ({status['format']}, from {status['source_path']})")
    rule = ("the latest activity or revenue date not after today" if status["as_of_from_data"]
            else "today: the export has no activity or revenue date up to today")
    print(f"as_of:          {status['as_of']} ({rule})")
    print(f"Export date:    {status['export_date'] or 'not stated by the export'}")
    currency = status["reporting_currency"]
    print(f"Currency:       {currency}" + (f" ({status['reporting_currency_source']})"
                                             if status["reporting_currency_source"] else ""))
    print(f"\n{'table':<15}{'read':>10}{'loaded':>10}{'quarantined':>13}{'skipped':>9}")
    for table, c in status["tables"].items():
        print(f"{table:<15}{c['read']:>10}{c['loaded']:>10}{c['quarantined']:>13}{c['skipped']:>9}")
    if status["absent_tables"]:
        print("\nNot in this export (the figures that need them are null): "
              + ", ".join(f"{t}.csv" for t in status["absent_tables"]))
    if status["absent_columns"]:
        print("Columns not in this export: " + ", ".join(status["absent_columns"]))
    if status["leftovers"]:
        print(f"\nLeftovers of an interrupted load (the next `kam load` removes them): {', '.join(status['leftovers'])}")
    return 0


def _write_output(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def cmd_quarantine(args, data_dir: Path, settings) -> int:
    from kam_metrics.load import warehouse
    from kam_metrics.csv_export import csv_safe_frame

    con = warehouse.connect_current(data_dir)
    try:
        rows = warehouse.quarantine_rows(con, table=args.table)
    finally:
        con.close()
    if args.format == "json":
        _write_output(json.dumps(rows.to_dicts(), indent=2, default=str) + "\n", args.out)
    else:
        _write_output(csv_safe_frame(rows).write_csv(), args.out)
    return 0


def cmd_report(args, data_dir: Path, settings) -> int:
    from kam_metrics import report
    from kam_metrics.programme import overlay

    filters = _filters(args)
    weights = None
    if args.weights is not None:
        if args.kind != "backtest":
            raise SettingsError(f"--weights applies to `kam report backtest` only, not to '{args.kind}'")
        from kam_metrics.metrics.score_check import parse_weights

        weights = parse_weights(args.weights, settings)
    con = overlay.connect_current(data_dir, settings)
    try:
        frame = report.report_frame(args.kind, con, args.as_of, filters, settings, weights=weights)
    finally:
        con.close()
    if args.format == "parquet" and not args.out:
        raise LoadError("--format parquet needs --out FILE")
    report.write_report(frame, args.format, Path(args.out) if args.out else None)
    return 0


def cmd_mapping(args, data_dir: Path, settings) -> int:
    from kam_metrics.load.importers import get_importer

    module = sys.modules[type(get_importer(args.format)).__module__]
    _write_output(module.mapping_template(), args.out)
    return 0


def cmd_verify(args, data_dir: Path, settings) -> int:
    from kam_metrics.load.verify import verify_snapshot

    problems = verify_snapshot(data_dir)
    if problems:
        for p in problems:
            print(f"FAIL {p}")
        return 1
    print("OK: every source row is loaded, quarantined or skipped; checksums match; metrics tables agree.")
    return 0


def cmd_settings(args, data_dir: Path, settings) -> int:
    from kam_metrics.settings import settings_toml

    sys.stdout.write(settings_toml(settings))
    return 0


def default_actor() -> str:
    """Who makes a change from the command line: $KAM_ACTOR, else the operating system's user name."""
    actor = os.environ.get(ENV_ACTOR, "").strip()
    if actor:
        return actor
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (e.g. a container without a passwd entry)
        return "unknown"


def cmd_programme(args, data_dir: Path, settings) -> int:
    from kam_metrics.csv_export import csv_safe_frame
    from kam_metrics.programme import ImportRejected, StoreError, open_store
    from kam_metrics.settings import programme_store_location

    try:
        store = open_store(programme_store_location(settings, data_dir))
    except StoreError as exc:
        print(f"kam: error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.programme_command == "import":
            actor = (args.actor or "").strip() or default_actor()
            try:
                results = store.import_path(args.path, actor)
            except ImportRejected as exc:
                for error in exc.errors:
                    print(str(error), file=sys.stderr)
                print(f"kam: error: {len(exc.errors)} problem(s); nothing was imported", file=sys.stderr)
                return 2
            for r in results:
                print(f"{r.file}: {r.rows} rows: {r.inserted} new, {r.updated} changed, {r.unchanged} unchanged")
            print(f"Imported by {actor} into {store.location if '://' not in store.location else 'the PostgreSQL store'}")
            return 0
        if args.programme_command == "export":
            counts = store.export_folder(args.out_dir)
            for table, n in counts.items():
                print(f"  {table + '.csv':<22}{n:>8,} rows")
            print(f"Wrote {len(counts)} files to {args.out_dir}/")
            return 0
        log = store.log(account_id=args.account)
        if args.format == "json":
            rows = log.to_dicts()
            for row in rows:  # the values as JSON objects, not strings
                for k in ("old_values", "new_values"):
                    row[k] = json.loads(row[k]) if row[k] is not None else None
            _write_output(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", args.out)
        else:
            _write_output(csv_safe_frame(log).write_csv(), args.out)
        return 0
    except StoreError as exc:
        print(f"kam: error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


def digest_recipients(values: list[str]) -> list[str]:
    """The addresses of --to (comma-separated and/or repeated), each once, in order; SettingsError for a bad one."""
    from kam_metrics.mail import is_email_address

    recipients: list[str] = []
    for value in values:
        for address in (a.strip() for a in value.split(",")):
            if not address:
                continue
            if not is_email_address(address):
                raise SettingsError(f"--to: not an e-mail address: {address!r}")
            if address not in recipients:
                recipients.append(address)
    if not recipients:
        raise SettingsError("--to: no recipient given")
    return recipients


def cmd_digest(args, data_dir: Path, settings) -> int:
    """Build the pack and the message first (any problem: exit 2, nothing sent), then deliver it (failure: exit 1)."""
    import dataclasses
    import tempfile

    from kam_metrics.mail import Attachment, MailError, digest_message, header_text, is_email_address, send_message

    recipients = digest_recipients(args.to)
    smtp = settings.smtp
    if args.smtp_host is not None:
        smtp = dataclasses.replace(smtp, host=args.smtp_host)
    if args.smtp_port is not None:
        if not 0 < args.smtp_port < 65536:
            raise SettingsError(f"--smtp-port must be between 1 and 65535, got {args.smtp_port}")
        smtp = dataclasses.replace(smtp, port=args.smtp_port)
    if not smtp.from_address:
        raise SettingsError("no sender address: set `from` in the [smtp] section of kam.toml "
                            "(e.g. from = \"kam-health@example.com\")")
    if not is_email_address(smtp.from_address):
        raise SettingsError(f"setting 'smtp.from' is not an e-mail address: {smtp.from_address!r}")
    if smtp.ca_file and not Path(smtp.ca_file).is_file():
        raise SettingsError(f"setting 'smtp.ca_file': no such file {smtp.ca_file!r}")
    password = None
    if smtp.user:
        password = os.environ.get(smtp.password_env)
        if not password:
            raise SettingsError(f"smtp.user is {smtp.user!r} but the environment variable {smtp.password_env} "
                                f"(setting 'smtp.password_env') holding its password is not set")

    from kam_metrics.pack import BrowserMissing, build_pack_for, cover_email, pack_file_name, render_html, render_pdf

    filters = _filters(args)
    pack = build_pack_for(data_dir, settings, as_of=args.as_of, filters=filters)
    content = cover_email(pack)
    attachment = None
    if args.attach == "pdf":
        name = pack_file_name(pack, "pdf")
        with tempfile.TemporaryDirectory(prefix="kam-digest-") as tmp:
            try:
                render_pdf(pack, Path(tmp) / name, paper={"a4": "A4", "letter": "Letter"}[args.paper])
            except BrowserMissing as exc:
                print(f"kam: error: {exc} (or send the pack as HTML: --attach html); nothing was sent",
                      file=sys.stderr)
                return 2
            attachment = Attachment(name, (Path(tmp) / name).read_bytes(), "application/pdf")
    elif args.attach == "html":
        attachment = Attachment(pack_file_name(pack, "html"), render_html(pack).encode("utf-8"), "text/html")
    subject = header_text(args.subject if args.subject is not None else content.subject)
    msg = digest_message(smtp.from_address, recipients, subject, content.html, content.text, content.images,
                         attachment)
    try:
        send_message(msg, smtp, recipients, password)
    except MailError as exc:
        print(f"kam: error: {exc}", file=sys.stderr)
        return 1
    attached = (f"attachment {attachment.filename}, {max(1, round(len(attachment.content) / 1024))} KB"
                if attachment else "no attachment")
    print(f"Sent '{subject}' to {', '.join(recipients)} ({attached})")
    return 0


def ensure_demo_loaded(data_dir: Path, settings) -> None:
    """First run: write and load the demo export when the data directory has no snapshot."""
    from kam_metrics.load import warehouse
    from kam_metrics.generators.demo import write_demo
    from kam_metrics.load.pipeline import load_export

    if warehouse.current_snapshot_path(data_dir) is not None:
        return
    demo_dir = Path(data_dir) / DEFAULT_DEMO_DIR
    print(f"No snapshot in {data_dir}: writing the demo export to {demo_dir} and loading it …")
    write_demo(demo_dir)
    report = load_export(demo_dir, data_dir, fmt="kam", settings=settings)
    print(report.as_text())


def cmd_pack(args, data_dir: Path, settings) -> int:
    import time

    from kam_metrics.pack import BrowserMissing, build_pack_for, render_html, render_pdf

    out = Path(args.out)
    kind = out.suffix.lower().lstrip(".")
    if kind not in ("html", "pdf"):
        print(f"kam: error: --out {out}: the file name must end in .html or .pdf", file=sys.stderr)
        return 2
    filters = _filters(args)
    started = time.perf_counter()
    pack = build_pack_for(data_dir, settings, as_of=args.as_of, filters=filters)
    if kind == "html":
        out.write_text(render_html(pack), encoding="utf-8")
        pages = None
    else:
        try:
            pages = render_pdf(pack, out, paper="Letter" if args.paper == "letter" else "A4")
        except BrowserMissing as exc:
            print(f"kam: error: {exc}", file=sys.stderr)
            return 2
    seconds = time.perf_counter() - started
    what = f"{pages} pages, " if pages is not None else ""
    print(f"Wrote {out}: weekly pack as of {pack.as_of.isoformat()}, {what}{len(pack.accounts)} key account"
          f"{'s' if len(pack.accounts) != 1 else ''}, {seconds:.1f} s")
    return 0


def cmd_app(args, data_dir: Path, settings) -> int:
    secrets = access.secrets_files(data_dir, REPO_ROOT)
    env = dict(os.environ, **{ENV_DATA_DIR: str(Path(data_dir).resolve())})
    env.pop(access.ENV_REQUIRE_LOGIN, None)
    if args.require_login:
        problems = access.require_login_problems(secrets, settings)
        if problems:
            print("kam: error: --require-login: " + "; ".join(problems), file=sys.stderr)
            return 2
        env[access.ENV_REQUIRE_LOGIN] = "1"
    if not args.no_demo:
        ensure_demo_loaded(data_dir, settings)
    if args.config:
        env["KAM_CONFIG"] = str(Path(args.config).resolve())
    cmd = [
        sys.executable, "-m", "kam_metrics.app.serve", str(REPO_ROOT / "app.py"),  # `streamlit run`, preloaded
        "--server.port", str(args.port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
        *[arg for path in secrets for arg in ("--secrets.files", str(path))],  # Streamlit's own, then the data dir's
    ]
    print(f"KAM Health on {access.app_address(secrets, args.port)}  (data: {data_dir})", flush=True)
    return subprocess.call(cmd, cwd=REPO_ROOT, env=env)


COMMANDS = {
    "demo": cmd_demo, "load": cmd_load, "status": cmd_status, "quarantine": cmd_quarantine, "report": cmd_report,
    "mapping": cmd_mapping, "verify": cmd_verify, "settings": cmd_settings, "programme": cmd_programme,
    "pack": cmd_pack, "digest": cmd_digest, "app": cmd_app,
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
