#!/usr/bin/env python3
"""check_release.py DIR: open one midata release with readers midata did not
write, and check that the files say what the manifest says they say.

DIR holds one release's files as a recipient downloads them: manifest.json,
README.txt and the transactions.* files (summary.html maybe). The readers
are Python's json and csv modules, DuckDB and pyarrow
(deploy/testbench/readers/requirements.txt); money is compared as Decimal
(or DuckDB DECIMAL), never as float.

The checks, one line each ("ok   ..." or "FAIL ..."):

  - manifest.json follows the Data Package rules: $schema, name, id,
    created (RFC 3339), resources; each resource's name, path, format,
    mediatype, bytes and sha256 hash, and the file in DIR has exactly those
    bytes and that hash; tables have a Table Schema; the midata block has
    recipient, consent ids, period, snapshot partitions and counts;
  - README.txt carries a sha256sum line for every other file;
  - transactions.ndjson (json, DuckDB), transactions.csv (csv, DuckDB with
    DECIMAL(22,4) amounts), transactions.parquet (pyarrow types and values,
    DuckDB) and transactions.json (the Open Banking field rules) each hold
    the manifest's row count, and all of them hold the same transactions:
    the same ids, times, amounts, currencies and descriptions, so the same
    sums by currency;
  - transactions.midata.csv (csv) has the midata header, CRLF line ends,
    newest-first dates, and the same rows as the NDJSON: dates in UK time,
    neutralised descriptions, signed amounts with the currency.

The last line is "readers: N passed, M failed"; the exit status is 1 when
any check failed, 2 when DIR cannot be read at all.
"""

import csv
import hashlib
import io
import json
import os
import re
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

NAME = re.compile(r"^[a-z0-9._-]+$")
HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
OB_AMOUNT = re.compile(r"^\d{1,13}(\.\d{1,5})?$")
OB_CURRENCY = re.compile(r"^[A-Z]{3}$")
MIDATA_MONEY = re.compile(r"^([+-])(£|[A-Z]{3})(\d+(?:\.\d+)?)$")
MIDATA_HEADER = ["Date", "Type", "Merchant/Description", "Debit/Credit", "Balance"]
# Table Schema (v2) field types.
TABLE_TYPES = {
    "string", "number", "integer", "boolean", "object", "array", "list",
    "datetime", "date", "time", "year", "yearmonth", "duration", "geopoint",
    "geojson", "any",
}
# Minor units of the currencies the midata CSV is checked for.
MINOR_UNITS = {"GBP": 2, "EUR": 2, "USD": 2, "JPY": 0, "CHF": 2}
UK = ZoneInfo("Europe/London")

NDJSON, CSV, PARQUET, JSONDOC, MIDATA = (
    "transactions.ndjson",
    "transactions.csv",
    "transactions.parquet",
    "transactions.json",
    "transactions.midata.csv",
)


class Failed(Exception):
    """A check found the release wrong."""


def need(cond, msg):
    if not cond:
        raise Failed(msg)


class Record:
    """One transaction as a reader saw it, for comparing formats."""

    __slots__ = ("id", "booked_at", "amount", "currency", "description", "type", "balance")

    def __init__(self, id, booked_at, amount, currency, description, type=None, balance=None):
        self.id = id
        self.booked_at = booked_at  # (UTC datetime to the second, nanoseconds)
        self.amount = amount  # signed Decimal
        self.currency = currency
        self.description = description
        self.type = type
        self.balance = balance  # signed Decimal or None


class Release:
    """What the checks learn about DIR, shared between them."""

    def __init__(self, dir):
        self.dir = dir
        self.manifest = None
        self.resources = {}  # path -> resource
        self.records = {}  # reader label -> {id: Record}
        self.reference = None  # the label the others are compared with
        self.sums = {}  # reader label -> {currency: Decimal}
        self.midata_rows = None  # Counter of midata row keys
        self.parquet_unit_ns = 1  # the time unit of the Parquet booked_at

    def path(self, name):
        return os.path.join(self.dir, name)

    def rows(self, path):
        rs = self.resources.get(path)
        need(rs is not None, f"{path} is not in the manifest")
        rows = rs.get("rows")
        need(isinstance(rows, int) and not isinstance(rows, bool), f"{path}: manifest rows {rows!r} is not an integer")
        return rows


# --- helpers ---------------------------------------------------------------


def instant(text):
    """Parses an RFC 3339 time: (UTC datetime to the second, nanoseconds)."""
    m = RFC3339.match(text) if isinstance(text, str) else None
    need(m is not None, f"{text!r} is not an RFC 3339 time with an offset")
    y, mo, d, h, mi, s, frac, off = m.groups()
    if off in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = 1 if off[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(off[1:3]), minutes=int(off[4:6])))
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=tz)
    except ValueError as e:
        raise Failed(f"{text!r} is not a valid time: {e}")
    ns = int((frac or ".")[1:].ljust(9, "0")) if frac else 0
    return dt.astimezone(timezone.utc), ns


def show_instant(i):
    dt, ns = i
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ns:09d}".rstrip("0") if ns else "") + "Z"


def neutral(text):
    """A text cell as the CSV formats write it: a leading apostrophe before
    = + - @ TAB CR."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def csvish(label):
    """Whether a reader's label is of a CSV file, whose text cells are
    neutralised."""
    return label.startswith(CSV) or label.startswith(MIDATA)


def seen_as(label, other, text):
    """Text that reader label read, as reader other would hold it: a value
    of a JSON or Parquet reader neutralised when compared with a CSV's cell,
    else as it is."""
    if text is not None and csvish(other) and not csvish(label):
        return neutral(text)
    return text


def sql_string(s):
    return "'" + s.replace("'", "''") + "'"


def sums_by_currency(records):
    sums = {}
    for r in records:
        sums[r.currency] = sums.get(r.currency, Decimal(0)) + r.amount
    return sums


def show_sums(sums):
    return ", ".join(f"{c} {sums[c]:f}" for c in sorted(sums, key=str)) or "none"


def crlf_problem(raw):
    """Where raw (a CSV file) has a line end other than CRLF outside quotes,
    or None."""
    quoted = False
    line = 1
    for i, b in enumerate(raw):
        if b == 0x22:
            quoted = not quoted
        elif b == 0x0A:
            if not quoted and (i == 0 or raw[i - 1] != 0x0D):
                return f"line {line} ends in LF, not CRLF"
            line += 1
        elif b == 0x0D and not quoted and raw[i + 1 : i + 2] != b"\n":
            return f"line {line} has a bare CR"
    if raw and not raw.endswith(b"\r\n"):
        return "the last line does not end in CRLF"
    return None


def read_text(rel, path):
    raw = open(rel.path(path), "rb").read()
    need(not raw.startswith(b"\xef\xbb\xbf"), f"{path} starts with a byte-order mark")
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Failed(f"{path} is not UTF-8: {e}")


def duck():
    con = duckdb.connect(":memory:")
    # No network here: never try to fetch an extension.
    con.execute("SET autoinstall_known_extensions = false")
    return con


# --- manifest.json ---------------------------------------------------------


def check_manifest_parses(rel):
    raw = open(rel.path("manifest.json"), "rb").read()
    m = json.loads(raw.decode("utf-8"), parse_float=Decimal)
    need(isinstance(m, dict), "manifest.json is not a JSON object")
    rel.manifest = m
    for rs in m.get("resources") or []:
        if isinstance(rs, dict) and isinstance(rs.get("path"), str):
            rel.resources[rs["path"]] = rs
    return f"{len(raw)} bytes, {len(rel.resources)} resources"


def check_package(rel):
    m = rel.manifest
    need(isinstance(m.get("$schema"), str) and m["$schema"].startswith("https://"), f"$schema {m.get('$schema')!r} is not a profile URL")
    need(isinstance(m.get("name"), str) and NAME.match(m["name"]), f"name {m.get('name')!r} is not lowercase [a-z0-9._-]")
    need(isinstance(m.get("id"), str) and m["id"], f"id {m.get('id')!r} is empty")
    instant(m.get("created"))
    res = m.get("resources")
    need(isinstance(res, list) and res, "resources is missing or empty")
    names = [rs.get("name") for rs in res if isinstance(rs, dict)]
    dup = [n for n, c in Counter(names).items() if c > 1]
    need(not dup, f"resource names not unique: {dup}")
    paths = [rs.get("path") for rs in res if isinstance(rs, dict)]
    need(len(set(paths)) == len(paths), f"resource paths not unique: {paths}")
    return f"{m['name']}, created {m['created']}"


def check_midata_block(rel):
    mb = rel.manifest.get("midata")
    need(isinstance(mb, dict), "no midata block")
    need(isinstance(mb.get("recipient"), str) and mb["recipient"], "midata.recipient is missing")
    ids = mb.get("consent_ids")
    need(isinstance(ids, list) and ids and all(isinstance(i, str) and i for i in ids), f"midata.consent_ids {ids!r} is not a non-empty list of ids")
    period = mb.get("period")
    need(isinstance(period, dict), "midata.period is missing")
    start, end = instant(period.get("from")), instant(period.get("to"))
    need(start < end, f"midata.period from {period['from']} is not before to {period['to']}")
    snap = mb.get("snapshot")
    need(isinstance(snap, dict) and isinstance(snap.get("partitions"), list), "midata.snapshot.partitions is missing")
    for p in snap["partitions"]:
        need(isinstance(p, dict) and all(isinstance(p.get(k), int) for k in ("partition", "start", "end")), f"snapshot partition {p!r} lacks integer partition, start, end")
        need(0 <= p["start"] <= p["end"], f"snapshot partition {p['partition']}: start {p['start']} > end {p['end']}")
    counts = mb.get("counts")
    need(isinstance(counts, dict), "midata.counts is missing")
    for k in ("scanned", "released", "quarantined"):
        need(isinstance(counts.get(k), int) and counts[k] >= 0, f"midata.counts.{k} {counts.get(k)!r} is not a count")
    excluded = counts.get("excluded") or {}
    need(isinstance(excluded, dict) and all(isinstance(v, int) for v in excluded.values()), "midata.counts.excluded is not a map of counts")
    total = counts["released"] + sum(excluded.values()) + counts["quarantined"]
    need(counts["scanned"] == total, f"counts: scanned {counts['scanned']} != released + excluded + quarantined = {total}")
    for path, rs in rel.resources.items():
        if rs.get("type") == "table":
            need(rs.get("rows") == counts["released"], f"{path}: rows {rs.get('rows')} != counts.released {counts['released']}")
    return f"recipient {mb['recipient']}, consent {','.join(ids)}, {counts['released']} released of {counts['scanned']} scanned"


def check_resource_descriptor(rel, rs):
    need(isinstance(rs.get("name"), str) and NAME.match(rs["name"]), f"name {rs.get('name')!r} does not match ^[a-z0-9._-]+$")
    p = rs.get("path")
    need(isinstance(p, str) and p, "path is missing")
    need(not p.startswith("/") and "\\" not in p and ".." not in p.split("/") and ":" not in p, f"path {p!r} is not a relative path inside the release")
    for k in ("format", "mediatype"):
        need(isinstance(rs.get(k), str) and rs[k], f"{k} is missing")
    need(isinstance(rs.get("bytes"), int) and not isinstance(rs["bytes"], bool) and rs["bytes"] >= 0, f"bytes {rs.get('bytes')!r} is not an integer")
    need(isinstance(rs.get("hash"), str) and HASH.match(rs["hash"]), f"hash {rs.get('hash')!r} does not match ^sha256:[0-9a-f]{{64}}$")
    return f"{rs['format']}, {rs['mediatype']}"


def check_resource_file(rel, rs):
    p = rs["path"]
    full = rel.path(p)
    need(os.path.isfile(full), f"{p} is not in the release")
    data = open(full, "rb").read()
    need(len(data) == rs.get("bytes"), f"{p} has {len(data)} bytes, the manifest says {rs.get('bytes')}")
    digest = hashlib.sha256(data).hexdigest()
    need("sha256:" + digest == rs.get("hash"), f"{p} has sha256 {digest}, the manifest says {rs.get('hash')}")
    return f"{len(data)} bytes, sha256 {digest[:12]}…"


def check_table_schema(rel, rs):
    schema = rs.get("schema")
    need(isinstance(schema, dict), "a table without schema")
    fields = schema.get("fields")
    need(isinstance(fields, list) and fields, "schema.fields is missing or empty")
    names = []
    for f in fields:
        need(isinstance(f, dict) and isinstance(f.get("name"), str) and f["name"], f"field {f!r} has no name")
        need(f.get("type") in TABLE_TYPES, f"field {f['name']}: type {f.get('type')!r} is not a Table Schema type")
        names.append(f["name"])
    need(len(set(names)) == len(names), f"field names not unique: {names}")
    pk = schema.get("primaryKey", [])
    pk = [pk] if isinstance(pk, str) else pk
    need(isinstance(pk, list), f"primaryKey {pk!r} is not a list")
    missing = [k for k in pk if k not in names]
    need(not missing, f"primaryKey fields {missing} are not fields")
    return f"{len(fields)} fields" + (f", primary key {','.join(pk)}" if pk else "")


def check_every_file_listed(rel):
    extra = sorted(set(os.listdir(rel.dir)) - set(rel.resources) - {"manifest.json"})
    need(not extra, f"files not in the manifest: {extra}")
    return f"{len(rel.resources)} files"


def check_readme_sums(rel):
    _, text = read_text(rel, "README.txt")
    lines = set(text.replace("\r\n", "\n").split("\n"))
    missing = []
    for p, rs in rel.resources.items():
        if p == "README.txt":
            continue
        if f"{rs['hash'].removeprefix('sha256:')}  {p}" not in lines:
            missing.append(p)
    need(not missing, f"README.txt has no sha256sum line for {missing}")
    return f"{len(rel.resources) - 1} sha256sum lines"


# --- transactions.ndjson ---------------------------------------------------


def check_ndjson(rel):
    raw, text = read_text(rel, NDJSON)
    need(not text or text.endswith("\n"), f"{NDJSON}: the last line has no LF")
    need("\r" not in text, f"{NDJSON}: has CR characters outside strings")
    records = {}
    for n, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        need(line, f"{NDJSON} line {n} is empty")
        obj = json.loads(line, parse_float=Decimal)
        need(isinstance(obj, dict), f"{NDJSON} line {n} is not an object")
        for k in ("transaction_id", "customer_id", "account_id", "booked_at", "amount", "currency", "status", "description"):
            need(isinstance(obj.get(k), str), f"{NDJSON} line {n}: {k} is missing or not a string")
        need(DECIMAL.match(obj["amount"]), f"{NDJSON} line {n}: amount {obj['amount']!r} is not a decimal string")
        need(obj["status"] == "booked", f"{NDJSON} line {n}: status {obj['status']!r}, a release holds booked records only")
        tid = obj["transaction_id"]
        need(tid not in records, f"{NDJSON}: transaction_id {tid} twice")
        bal = obj.get("balance_after")
        records[tid] = Record(tid, instant(obj["booked_at"]), Decimal(obj["amount"]), obj["currency"],
                              obj["description"], obj.get("type", ""), Decimal(bal) if bal is not None else None)
    want = rel.rows(NDJSON)
    need(len(records) == want, f"{NDJSON}: {len(records)} rows, the manifest says {want} rows")
    times = [r.booked_at for r in records.values()]
    need(times == sorted(times), f"{NDJSON}: not oldest first")
    rel.records[f"{NDJSON} (json)"] = records
    rel.reference = f"{NDJSON} (json)"
    rel.sums[f"{NDJSON} (json)"] = sums_by_currency(records.values())
    return f"{len(records)} rows, {show_sums(rel.sums[f'{NDJSON} (json)'])}"


def check_ndjson_duckdb(rel):
    con = duck()
    src = (f"read_ndjson({sql_string(rel.path(NDJSON))}, "
           "columns={'transaction_id': 'VARCHAR', 'amount': 'VARCHAR', 'currency': 'VARCHAR'})")
    n, = con.execute(f"SELECT count(*) FROM {src}").fetchone()
    want = rel.rows(NDJSON)
    need(n == want, f"{NDJSON}: DuckDB reads {n} rows, the manifest says {want} rows")
    sums = dict(con.execute(f"SELECT currency, sum(CAST(amount AS DECIMAL(22,4))) FROM {src} GROUP BY currency").fetchall())
    rel.sums[f"{NDJSON} (duckdb)"] = sums
    return f"{n} rows, {show_sums(sums)}"


# --- transactions.csv ------------------------------------------------------


def csv_cell_ok(field, cell):
    """Whether a CSV cell is a value of its Table Schema field ("" is the
    missing value)."""
    if cell == "":
        return True
    t = field.get("type")
    if t == "number":
        return bool(DECIMAL.match(cell))
    if t == "integer":
        return bool(re.match(r"^-?\d+$", cell))
    if t == "datetime":
        return bool(RFC3339.match(cell))
    if t == "date":
        fmt = field.get("format", "default")
        try:
            if fmt in ("default", "any"):
                datetime.strptime(cell, "%Y-%m-%d")
            else:
                datetime.strptime(cell, fmt)
        except ValueError:
            return False
    return True


def check_csv_structure(rel, path):
    """Python's csv module: header = the schema's fields, CRLF, every cell
    a value of its field's type, the row count, a unique primary key."""
    raw, text = read_text(rel, path)
    problem = crlf_problem(raw)
    need(problem is None, f"{path}: {problem}")
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    need(rows, f"{path} has no header")
    schema = rel.resources[path].get("schema") or {}
    fields = schema.get("fields") or []
    names = [f.get("name") for f in fields]
    need(rows[0] == names, f"{path}: header {rows[0]} is not the schema's fields {names}")
    body = rows[1:]
    want = rel.rows(path)
    need(len(body) == want, f"{path}: {len(body)} rows, the manifest says {want} rows")
    for n, row in enumerate(body, 2):
        need(len(row) == len(fields), f"{path} line {n}: {len(row)} cells, want {len(fields)}")
        for f, cell in zip(fields, row):
            need(csv_cell_ok(f, cell), f"{path} line {n}: {f['name']} {cell!r} is not a {f['type']}")
    pk = schema.get("primaryKey") or []
    pk = [pk] if isinstance(pk, str) else pk
    if pk:
        idx = [names.index(k) for k in pk]
        keys = Counter(tuple(row[i] for i in idx) for row in body)
        dup = [k for k, c in keys.items() if c > 1]
        need(not dup, f"{path}: primary key {pk} not unique: {dup[:3]}")
    return f"{len(body)} rows, {len(fields)} columns, CRLF"


def check_csv_duckdb(rel):
    """DuckDB read_csv with explicit types: DECIMAL(22,4) amounts."""
    fields = rel.resources[CSV].get("schema", {}).get("fields", [])
    need(fields, f"{CSV} has no schema fields")
    cols = ", ".join(
        f"{sql_string(f['name'])}: {sql_string('DECIMAL(22,4)' if f['type'] == 'number' else 'VARCHAR')}"
        for f in fields
    )
    src = (f"read_csv({sql_string(rel.path(CSV))}, header = true, delim = ',', quote = '\"', "
           f"escape = '\"', auto_detect = false, columns = {{{cols}}})")
    con = duck()
    n, = con.execute(f"SELECT count(*) FROM {src}").fetchone()
    want = rel.rows(CSV)
    need(n == want, f"{CSV}: DuckDB reads {n} rows, the manifest says {want} rows")
    bad = con.execute(
        f"SELECT transaction_id, amount, credit_debit_indicator, amount_unsigned FROM {src} "
        "WHERE amount_unsigned <> abs(amount) OR credit_debit_indicator <> "
        "CASE WHEN amount < 0 THEN 'Debit' ELSE 'Credit' END LIMIT 3").fetchall()
    need(not bad, f"{CSV}: amount, credit_debit_indicator and amount_unsigned disagree: {bad}")
    records = {}
    for tid, booked, amount, cur, desc, typ in con.execute(
            f"SELECT transaction_id, booked_at, amount, currency, description, type FROM {src}").fetchall():
        records[tid] = Record(tid, instant(booked), amount, cur, desc, typ)
    need(len(records) == n, f"{CSV}: transaction ids not unique")
    rel.records[f"{CSV} (duckdb)"] = records
    sums = dict(con.execute(f"SELECT currency, sum(amount) FROM {src} GROUP BY currency").fetchall())
    rel.sums[f"{CSV} (duckdb)"] = sums
    return f"{n} rows, amount DECIMAL(22,4), {show_sums(sums)}"


# --- transactions.parquet --------------------------------------------------


def arrow_type_ok(field, t):
    """Whether Arrow type t fits the Table Schema field."""
    kind = field.get("type")
    if kind == "string":
        return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
    if kind == "number":
        return pa.types.is_decimal(t)
    if kind == "integer":
        return pa.types.is_integer(t)
    if kind == "boolean":
        return pa.types.is_boolean(t)
    if kind == "datetime":
        return pa.types.is_timestamp(t) and t.unit in ("ms", "us") and t.tz in ("UTC", "+00:00", "Etc/UTC")
    if kind == "date":
        return pa.types.is_date(t)
    if kind == "object":
        return pa.types.is_struct(t) or pa.types.is_string(t) or pa.types.is_large_string(t)
    return True


def check_parquet_types(rel):
    pf = pq.ParquetFile(rel.path(PARQUET))
    schema = pf.schema_arrow
    types = {f.name: f.type for f in schema}
    amount = types.get("amount")
    need(amount is not None and pa.types.is_decimal(amount) and amount.scale == 4 and amount.precision == 22,
         f"{PARQUET}: amount is {amount}, want decimal128(22, 4) (parquet format 2)")
    booked = types.get("booked_at")
    need(booked is not None and pa.types.is_timestamp(booked) and booked.unit in ("ms", "us") and booked.tz == "UTC",
         f"{PARQUET}: booked_at is {booked}, want timestamp[us or ms, tz=UTC] (isAdjustedToUTC=true)")
    for name in ("transaction_id", "currency", "description"):
        t = types.get(name)
        need(t is not None and (pa.types.is_string(t) or pa.types.is_large_string(t)), f"{PARQUET}: {name} is {t}, want string")
    fields = (rel.resources[PARQUET].get("schema") or {}).get("fields")
    if fields:
        names = [f["name"] for f in fields]
        need(schema.names == names, f"{PARQUET}: columns {schema.names} are not the schema's fields {names}")
        wrong = [f"{f['name']} is {types[f['name']]}, schema says {f['type']}" for f in fields if not arrow_type_ok(f, types[f["name"]])]
        need(not wrong, f"{PARQUET}: {'; '.join(wrong)}")
    return f"amount {amount}, booked_at {booked}, {pf.metadata.num_row_groups} row groups"


def check_parquet_values(rel):
    table = pq.read_table(rel.path(PARQUET))
    want = rel.rows(PARQUET)
    need(table.num_rows == want, f"{PARQUET}: pyarrow reads {table.num_rows} rows, the manifest says {want} rows")
    unit_ns = {"ms": 1_000_000, "us": 1_000}[table.schema.field("booked_at").type.unit]
    cols = {c: table.column(c).to_pylist() for c in ("transaction_id", "booked_at", "amount", "currency", "description")}
    records = {}
    for i in range(table.num_rows):
        ts = cols["booked_at"][i]
        need(ts is not None and ts.tzinfo is not None, f"{PARQUET} row {i + 1}: booked_at {ts!r} has no time zone")
        ts = ts.astimezone(timezone.utc)
        tid = cols["transaction_id"][i]
        need(isinstance(cols["amount"][i], Decimal), f"{PARQUET} row {i + 1}: amount {cols['amount'][i]!r} is not a decimal")
        records[tid] = Record(tid, (ts.replace(microsecond=0), ts.microsecond * 1000), cols["amount"][i],
                              cols["currency"][i], cols["description"][i])
    need(len(records) == table.num_rows, f"{PARQUET}: transaction ids not unique")
    rel.records[f"{PARQUET} (pyarrow)"] = records
    rel.parquet_unit_ns = unit_ns
    rel.sums[f"{PARQUET} (pyarrow)"] = sums_by_currency(records.values())
    return f"{table.num_rows} rows, {show_sums(rel.sums[f'{PARQUET} (pyarrow)'])}"


def check_parquet_duckdb(rel):
    con = duck()
    src = f"read_parquet({sql_string(rel.path(PARQUET))})"
    n, = con.execute(f"SELECT count(*) FROM {src}").fetchone()
    want = rel.rows(PARQUET)
    need(n == want, f"{PARQUET}: DuckDB reads {n} rows, the manifest says {want} rows")
    amount_t, booked_t = con.execute(f"SELECT typeof(amount), typeof(booked_at) FROM {src} LIMIT 1").fetchone() if n else ("?", "?")
    need(n == 0 or amount_t.startswith("DECIMAL(") and amount_t == "DECIMAL(22,4)", f"{PARQUET}: DuckDB reads amount as {amount_t}, want DECIMAL(22,4)")
    need(n == 0 or booked_t == "TIMESTAMP WITH TIME ZONE", f"{PARQUET}: DuckDB reads booked_at as {booked_t}, want TIMESTAMP WITH TIME ZONE (UTC-adjusted)")
    sums = dict(con.execute(f"SELECT currency, sum(amount) FROM {src} GROUP BY currency").fetchall())
    rel.sums[f"{PARQUET} (duckdb)"] = sums
    return f"{n} rows, amount {amount_t}, booked_at {booked_t}, {show_sums(sums)}"


# --- transactions.json (Open Banking) --------------------------------------


def ob_amount(where, amt):
    need(isinstance(amt, dict), f"{where} is not an object")
    a, c = amt.get("Amount"), amt.get("Currency")
    need(isinstance(a, str) and OB_AMOUNT.match(a), f"{where}.Amount {a!r} does not match ^\\d{{1,13}}(\\.\\d{{1,5}})?$")
    need(isinstance(c, str) and OB_CURRENCY.match(c), f"{where}.Currency {c!r} does not match ^[A-Z]{{3}}$")
    return Decimal(a), c


def check_open_banking(rel):
    _, text = read_text(rel, JSONDOC)
    doc = json.loads(text, parse_float=Decimal)
    need(isinstance(doc, dict) and isinstance(doc.get("Data"), dict), f"{JSONDOC}: no Data object")
    txs = doc["Data"].get("Transaction")
    need(isinstance(txs, list), f"{JSONDOC}: Data.Transaction is not a list")
    records = {}
    for n, tx in enumerate(txs, 1):
        where = f"{JSONDOC} transaction {n}"
        need(isinstance(tx, dict), f"{where} is not an object")
        for k in ("AccountId", "TransactionId"):
            need(isinstance(tx.get(k), str) and tx[k], f"{where}: {k} is missing")
        where += f" ({tx['TransactionId']})"
        need(tx.get("CreditDebitIndicator") in ("Credit", "Debit"), f"{where}: CreditDebitIndicator {tx.get('CreditDebitIndicator')!r}")
        need(tx.get("Status") in ("Booked", "Pending"), f"{where}: Status {tx.get('Status')!r}")
        need(tx["Status"] == "Booked", f"{where}: Status Pending, a release holds booked records only")
        booked = instant(tx.get("BookingDateTime"))
        amount, cur = ob_amount(f"{where}: Amount", tx.get("Amount"))
        if "Balance" in tx:
            bal = tx["Balance"]
            need(isinstance(bal, dict) and bal.get("CreditDebitIndicator") in ("Credit", "Debit") and isinstance(bal.get("Type"), str),
                 f"{where}: Balance lacks CreditDebitIndicator or Type")
            ob_amount(f"{where}: Balance.Amount", bal.get("Amount"))
        if "MerchantDetails" in tx:
            md = tx["MerchantDetails"]
            need(isinstance(md, dict), f"{where}: MerchantDetails is not an object")
            mcc = md.get("MerchantCategoryCode")
            need(mcc is None or (isinstance(mcc, str) and 3 <= len(mcc) <= 4), f"{where}: MerchantCategoryCode {mcc!r} is not 3-4 characters")
        info = tx.get("TransactionInformation")
        need(info is None or isinstance(info, str), f"{where}: TransactionInformation is not a string")
        need(tx["TransactionId"] not in records, f"{where}: TransactionId twice")
        signed = -amount if tx["CreditDebitIndicator"] == "Debit" else amount
        need(not (tx["CreditDebitIndicator"] == "Debit" and amount == 0), f"{where}: a zero amount is Credit")
        code = (tx.get("ProprietaryBankTransactionCode") or {}).get("Code", "")
        records[tx["TransactionId"]] = Record(tx["TransactionId"], booked, signed, cur, info, code)
    want = rel.rows(JSONDOC)
    need(len(records) == want, f"{JSONDOC}: {len(records)} rows, the manifest says {want} rows")
    meta = doc.get("Meta")
    if records and isinstance(meta, dict) and "FirstAvailableDateTime" in meta:
        times = sorted(r.booked_at for r in records.values())
        need(instant(meta["FirstAvailableDateTime"]) == times[0] and instant(meta.get("LastAvailableDateTime")) == times[-1],
             f"{JSONDOC}: Meta First/LastAvailableDateTime are not the first and last BookingDateTime")
    rel.records[f"{JSONDOC} (json)"] = records
    rel.sums[f"{JSONDOC} (json)"] = sums_by_currency(records.values())
    return f"{len(records)} transactions, Σ±Amount {show_sums(rel.sums[f'{JSONDOC} (json)'])}"


# --- transactions.midata.csv -----------------------------------------------


def midata_money(where, cell):
    m = MIDATA_MONEY.match(cell)
    need(m is not None, f"{where}: {cell!r} is not a signed amount like -£12.34 or +EUR3.10")
    sign, sym, digits = m.groups()
    cur = "GBP" if sym == "£" else sym
    places = len(digits.split(".")[1]) if "." in digits else 0
    if cur in MINOR_UNITS:
        need(places == MINOR_UNITS[cur], f"{where}: {cell!r} has {places} decimals, {cur} has {MINOR_UNITS[cur]}")
    value = Decimal(digits)
    return cur, -value if sign == "-" else value


def check_midata_csv(rel):
    raw, text = read_text(rel, MIDATA)
    problem = crlf_problem(raw)
    need(problem is None, f"{MIDATA}: {problem}")
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    need(rows and rows[0] == MIDATA_HEADER, f"{MIDATA}: header {rows[0] if rows else None}, want {','.join(MIDATA_HEADER)}")
    body = rows[1:]
    want = rel.rows(MIDATA)
    need(len(body) == want, f"{MIDATA}: {len(body)} rows, the manifest says {want} rows")
    keys = Counter()
    dates = []
    for n, row in enumerate(body, 2):
        where = f"{MIDATA} line {n}"
        need(len(row) == 5, f"{where}: {len(row)} cells, want 5")
        date, typ, desc, amount, balance = row
        try:
            dates.append(datetime.strptime(date, "%d/%m/%Y").date())
        except ValueError:
            raise Failed(f"{where}: Date {date!r} is not DD/MM/YYYY")
        cur, value = midata_money(where, amount)
        bal = midata_money(where, balance) if balance else None
        keys[(date, typ, desc, cur, value, bal)] += 1
    need(dates == sorted(dates, reverse=True), f"{MIDATA}: dates are not newest first")
    rel.midata_rows = keys
    return f"{len(body)} rows, newest first, CRLF"


def check_midata_matches_reference(rel):
    need(rel.midata_rows is not None, f"{MIDATA} was not read")
    ref = rel.records.get(rel.reference) if rel.reference else None
    need(ref is not None, f"no reader of the transactions to compare {MIDATA} with")
    want = Counter()
    for r in ref.values():
        date = r.booked_at[0].astimezone(UK).strftime("%d/%m/%Y")
        bal = (r.currency, r.balance) if r.balance is not None else None
        want[(date, seen_as(rel.reference, MIDATA, r.type or ""), seen_as(rel.reference, MIDATA, r.description), r.currency, r.amount, bal)] += 1
    got = rel.midata_rows
    missing, extra = want - got, got - want
    need(not missing and not extra,
         f"{MIDATA} rows differ from {rel.reference}: missing {list(missing.elements())[:3]}, unexpected {list(extra.elements())[:3]}")
    return f"the same {sum(want.values())} rows as {rel.reference}"


# --- across formats --------------------------------------------------------


def check_ids_agree(rel):
    ref_label = rel.reference
    ref = rel.records[ref_label]
    for label, records in rel.records.items():
        want = {seen_as(ref_label, label, i) for i in ref}
        got = {seen_as(label, ref_label, i) for i in records}
        need(got == want, f"transaction ids of {label} differ from {ref_label}: missing {sorted(want - got)[:3]}, unexpected {sorted(got - want)[:3]}")
    return f"{len(ref)} ids in {len(rel.records)} readers"


def check_sums_agree(rel):
    ref_label = rel.reference
    ref = {c: v for c, v in rel.sums[ref_label].items()}
    diffs = []
    for label, sums in rel.sums.items():
        if set(sums) != set(ref) or any(sums[c] != ref[c] for c in ref):
            diffs.append(f"{label} {show_sums(sums)}")
    need(not diffs, f"sum of amounts differs from {ref_label} ({show_sums(ref)}): {'; '.join(diffs)}")
    return f"{show_sums(ref)} in {len(rel.sums)} readers"


def check_records_agree(rel):
    ref_label = rel.reference
    diffs = []
    for label, records in rel.records.items():
        if label == ref_label:
            continue
        ref = {seen_as(ref_label, label, i): r for i, r in rel.records[ref_label].items()}
        # Parquet keeps whole microseconds (or milliseconds), truncated.
        unit = rel.parquet_unit_ns if PARQUET in (label.split()[0], ref_label.split()[0]) else 1
        for tid, got in records.items():
            want = ref.get(seen_as(label, ref_label, tid))
            if want is None:
                continue  # check_ids_agree reports it
            pairs = (
                ("booked_at", [show_instant((r.booked_at[0], r.booked_at[1] // unit * unit)) for r in (want, got)]),
                ("amount", [want.amount, got.amount]),
                ("currency", [seen_as(ref_label, label, want.currency), seen_as(label, ref_label, got.currency)]),
                ("description", [seen_as(ref_label, label, want.description), seen_as(label, ref_label, got.description)]),
            )
            for what, (a, b) in pairs:
                if a != b:
                    diffs.append(f"{label} {tid} {what} {b!r}, {ref_label} has {a!r}")
    need(not diffs, f"{len(diffs)} differences: {'; '.join(diffs[:4])}")
    return f"times, amounts, currencies and descriptions equal in {len(rel.records)} readers"


# --- main ------------------------------------------------------------------


class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, fn, *args):
        try:
            detail = fn(*args)
        except Failed as e:
            self.failed += 1
            print(f"FAIL {name}: {e}", flush=True)
            return False
        except Exception as e:  # a reader that cannot open the file is a failure too
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}".replace("\n", " "), flush=True)
            return False
        self.passed += 1
        print(f"ok   {name}" + (f": {detail}" if detail else ""), flush=True)
        return True


def main(argv):
    if len(argv) != 2:
        print("usage: check_release.py DIR", file=sys.stderr)
        return 2
    rel = Release(argv[1])
    if not os.path.isfile(rel.path("manifest.json")):
        print(f"check_release.py: no manifest.json in {rel.dir}", file=sys.stderr)
        return 2
    run = Runner()
    if run.check("manifest.json parses", check_manifest_parses, rel):
        run.check("manifest.json: Data Package keys", check_package, rel)
        run.check("manifest.json: midata block", check_midata_block, rel)
        for rs in rel.manifest.get("resources") or []:
            label = rs.get("path") if isinstance(rs, dict) else repr(rs)
            if not run.check(f"{label}: resource descriptor", check_resource_descriptor, rel, rs):
                continue
            run.check(f"{label}: bytes and sha256", check_resource_file, rel, rs)
            if rs.get("type") == "table":
                run.check(f"{label}: table schema", check_table_schema, rel, rs)
        run.check("manifest.json: every file in the release is listed", check_every_file_listed, rel)
        if "README.txt" in rel.resources:
            run.check("README.txt: sha256sum lines", check_readme_sums, rel)

    present = lambda p: p in rel.resources and os.path.isfile(rel.path(p))
    if present(NDJSON):
        run.check(f"{NDJSON}: python json", check_ndjson, rel)
        run.check(f"{NDJSON}: duckdb read_ndjson", check_ndjson_duckdb, rel)
    if present(CSV):
        run.check(f"{CSV}: python csv", check_csv_structure, rel, CSV)
        run.check(f"{CSV}: duckdb read_csv DECIMAL(22,4)", check_csv_duckdb, rel)
    if present(PARQUET):
        run.check(f"{PARQUET}: pyarrow types", check_parquet_types, rel)
        run.check(f"{PARQUET}: pyarrow values", check_parquet_values, rel)
        run.check(f"{PARQUET}: duckdb read_parquet", check_parquet_duckdb, rel)
    if present(JSONDOC):
        run.check(f"{JSONDOC}: Open Banking field rules", check_open_banking, rel)
    if present(MIDATA):
        run.check(f"{MIDATA}: python csv", check_midata_csv, rel)

    # The NDJSON (exact text) is what the others are compared with; when it
    # is missing or unreadable, the first format that was read.
    if rel.reference is None and rel.records:
        rel.reference = next(iter(rel.records))
    if rel.midata_rows is not None:
        run.check(f"{MIDATA}: the same rows as {rel.reference or 'the other formats'}", check_midata_matches_reference, rel)
    if rel.reference is not None and rel.reference in rel.sums:
        run.check("transaction ids equal across formats", check_ids_agree, rel)
        run.check("sums of amounts by currency equal across formats", check_sums_agree, rel)
        run.check("records equal across formats", check_records_agree, rel)

    print(f"readers: {run.passed} passed, {run.failed} failed")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
