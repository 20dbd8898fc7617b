"""Maps public-postmortem records and evaluation queries onto deja.v1 (proto JSON).

postmortem_from_record(rec) -> dict: a deja.v1.Postmortem in proto JSON (field
names as in the .proto) that passes core/validation.cc. Fields the API requires
but a record lacks get visible defaults:
  severity SEV3 + tag "severity-unrecorded";
  no `date` -> started_at 1970-01-01T00:00:00Z + tag "undated" (an `as_of` bound
  then keeps it eligible, as the reference scorer keeps undated records);
  a date before 1900 (the API's lower bound) -> 1900-01-01 + tag "date-before-1900";
  an impossible date (2018-02-29) -> the month's last day + tag "date-corrected";
  no company -> team "unknown-team"; no product and no company -> service
  "unknown-service".
Over-long strings are cut at the validation limits at a UTF-8 boundary.

find_similar_request_from_query(q) -> dict: a deja.v1.FindSimilarRequest.
"""
import calendar
import datetime
import json
import re

# core/validation.h
MAX_SHORT_TEXT = 200  # team, service, tag, external_id
MAX_TITLE = 300
MAX_LONG_TEXT = 64 * 1024  # summary, narrative
MAX_LOG_LINE = 4096
MAX_LIST_ITEMS = 200
MAX_URL = 2048
MAX_FIND_SIMILAR_LIMIT = 50

UNDATED = "1970-01-01T00:00:00Z"
EARLIEST = datetime.datetime(1900, 1, 1, tzinfo=datetime.timezone.utc)
# A summary made from the body: long enough to read, short like a real one.
DERIVED_SUMMARY_BYTES = 600

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")


def cut_utf8(text, max_bytes):
    """`text` cut to at most `max_bytes` UTF-8 bytes without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", errors="ignore")


def _cut_at_word(text, max_bytes):
    cut = cut_utf8(text, max_bytes)
    if cut == text:
        return text
    space = cut.rfind(" ")
    return cut[:space] if space > len(cut) // 2 else cut


def _prose(text, max_bytes):
    """Long text: no NUL (the API refuses it), at most `max_bytes`."""
    return cut_utf8((text or "").replace("\x00", ""), max_bytes).strip()


def _name(text, max_bytes=MAX_SHORT_TEXT):
    """A name (team, service, tag): one line, no control characters, trimmed."""
    text = _SPACES.sub(" ", _CONTROL.sub(" ", text or "")).strip()
    return cut_utf8(text, max_bytes).strip()


def _parse_time(text):
    """An aware UTC datetime from RFC 3339 / ISO 8601 text, or None."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        value = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def _parse_date(text):
    """(midnight UTC of a YYYY-MM-DD date, corrected). An impossible day
    ("2018-02-29") becomes the month's last day: no real date lies between the
    two, so comparisons with as_of come out as the reference's string compare."""
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text.strip()) if isinstance(text, str) else None
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        return None, False
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    last = calendar.monthrange(year, month)[1]
    fixed = min(max(day, 1), last)
    return (datetime.datetime(year, month, fixed, tzinfo=datetime.timezone.utc),
            fixed != day)


def rfc3339(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _started_at(rec):
    """(started_at, marker tags). Mirrors the reference's eligibility: a record
    is dated by `date`; start_time refines it only on the same UTC day, so that
    started_before = as_of excludes exactly the records the reference excludes."""
    day, corrected = _parse_date(rec.get("date"))
    if day is None:
        return None, ["undated"]
    if day < EARLIEST:
        return EARLIEST, ["date-before-1900"]
    if corrected:
        return day, ["date-corrected"]
    start = _parse_time(rec.get("start_time"))
    if start is not None and start.date() == day.date():
        return start.replace(microsecond=0), []
    return day, []


def _tags(rec, markers):
    tags, seen = [], set()
    room = MAX_LIST_ITEMS - len(markers)
    for raw in list(rec.get("categories") or []) + list(rec.get("keywords") or []):
        if not isinstance(raw, str):
            continue
        tag = _name(raw.lower())
        if not tag or tag in seen:
            continue
        seen.add(tag)
        tags.append(tag)
        if len(tags) == room:
            break
    for marker in markers:
        if marker not in seen:
            seen.add(marker)
            tags.append(marker)
    return tags


def _is_web_url(url):
    """As core/validation.cc IsWebUrl: http(s), a host, no spaces or controls."""
    lower = url.lower()
    if lower.startswith("https://"):
        rest = url[8:]
    elif lower.startswith("http://"):
        rest = url[7:]
    else:
        return False
    if not rest or rest[0] == "/":
        return False
    return not any(c <= " " or c == "\x7f" for c in rest)


def postmortem_from_record(rec):
    """A deja.v1.Postmortem (proto JSON dict) for one corpus record."""
    text = _prose(rec.get("text"), MAX_LONG_TEXT)
    summary = _prose(rec.get("summary"), MAX_LONG_TEXT)
    if not summary:
        summary = _cut_at_word(_SPACES.sub(" ", text), DERIVED_SUMMARY_BYTES)
    title = _name(rec.get("title"), MAX_TITLE)
    if not title:
        title = _cut_at_word(_name(summary, 10 * MAX_TITLE), MAX_TITLE) or rec["id"]
    if not summary:
        summary = title

    company = _name(rec.get("company"))
    product = _name(rec.get("product"))
    team = company or "unknown-team"
    service = product or company or "unknown-service"

    started, markers = _started_at(rec)
    markers = ["severity-unrecorded"] + markers
    pm = {
        "team": team,
        "title": title,
        "summary": summary,
        "severity": "SEV3",
        "started_at": rfc3339(started) if started else UNDATED,
        "services": [service],
        "tags": _tags(rec, markers),
        "external_id": _name(rec.get("id")),
    }
    if text:
        pm["narrative"] = text
    if started is not None and not markers[1:]:
        end = _parse_time(rec.get("end_time"))
        if end is not None and end > started and end.year <= 9999:
            pm["resolved_at"] = rfc3339(end.replace(microsecond=0))
    url = (rec.get("url") or "").strip()
    if url and len(url.encode("utf-8")) <= MAX_URL and _is_web_url(url):
        pm["source_url"] = url
    return pm


def find_similar_request_from_query(q, limit=20):
    """A deja.v1.FindSimilarRequest (proto JSON dict) for one evaluation query.
    `limit` leaves room for the probe being dropped from the ranking."""
    request = {"symptoms": q.get("query") or "",
               "limit": max(1, min(int(limit), MAX_FIND_SIMILAR_LIMIT))}
    log_lines = [cut_utf8(l.replace("\x00", ""), MAX_LOG_LINE)
                 for l in (q.get("log_lines") or []) if isinstance(l, str) and l.strip()]
    if log_lines:
        request["log_lines"] = log_lines[:MAX_LIST_ITEMS]
    services = [_name(s) for s in (q.get("services") or []) if isinstance(s, str)]
    services = [s for s in services if s]
    if services:
        request["services"] = services[:MAX_LIST_ITEMS]
    as_of, _ = _parse_date(q.get("as_of"))
    if as_of is not None:
        request["started_before"] = rfc3339(as_of)
    return request


def _load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_corpus(path):
    """The corpus records, in file order."""
    return _load_jsonl(path)


def load_queries(path):
    """The evaluation queries, in file order."""
    return _load_jsonl(path)
