#!/usr/bin/python3
"""Checks the sample postmortems against deja.v1.Postmortem.

Usage: check_samples.py PROTOS_DIR SAMPLES_DIR

Generates Python classes from PROTOS_DIR/deja/v1/*.proto into a temporary
directory, then for every SAMPLES_DIR/*.json:
  - parses it with google.protobuf.json_format (unknown fields are rejected);
  - checks the keys are the proto3 JSON names (lowerCamelCase) and that no
    output-only field (id, version, createdAt, updatedAt, action item
    id/history) is present; a closed action item may say when it was
    closed (completedAt), as the history of a past incident does;
  - checks the content rules the samples promise: required fields, time order,
    5 Whys, one facilitator, one owner and a valid due date per action item,
    clean UTF-8 strings without NUL, size limits.
Prints one line per problem and exits 1, or prints "N samples OK" and exits 0.
"""

import datetime
import glob
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Same limits as core/validation.h.
MAX_SHORT_TEXT = 200  # team, service, tag, owner, participant name, ...
MAX_TITLE = 300
MAX_LONG_TEXT = 64 * 1024
MAX_LOG_LINE = 4096
MAX_LIST_ITEMS = 200

FILE_NAME = re.compile(r"^\d{2}-[a-z0-9]+(-[a-z0-9]+)*\.json$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# One owner: a person ("priya.nair") or a team ("payments-oncall"); no lists.
OWNER = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
LOWER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
CAMEL_KEY = re.compile(r"^[a-z][A-Za-z0-9]*$")

OUTPUT_ONLY_TOP = ("id", "version", "createdAt", "updatedAt")
OUTPUT_ONLY_ACTION = ("id", "history")


def generate_classes(protos_dir, out_dir):
    protos = sorted(glob.glob(os.path.join(protos_dir, "deja", "v1", "*.proto")))
    if not protos:
        sys.exit("check_samples: no .proto files under %s/deja/v1" % protos_dir)
    protoc = shutil.which("protoc")
    if protoc is None:
        sys.exit("check_samples: protoc not found on PATH")
    cmd = [protoc, "-I" + protos_dir]
    if os.path.isfile("/usr/include/google/protobuf/timestamp.proto"):
        cmd.append("-I/usr/include")
    cmd += ["--python_out=" + out_dir] + protos
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("check_samples: protoc failed:\n" + result.stderr)
    sys.path.insert(0, out_dir)
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        sys.exit("check_samples: the protobuf Python package is missing for %s; "
                 "run with /usr/bin/python3 (Debian python3-protobuf)" % sys.executable)
    return importlib.import_module("deja.v1.postmortem_pb2")


def check_keys(node, path, problems):
    """Every JSON key must be a lowerCamelCase proto3 JSON name."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not CAMEL_KEY.match(key):
                problems.append("%s.%s: key is not lowerCamelCase" % (path, key))
            check_keys(value, "%s.%s" % (path, key), problems)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_keys(value, "%s[%d]" % (path, i), problems)


def check_output_only(raw, problems):
    for key in OUTPUT_ONLY_TOP:
        if key in raw:
            problems.append("%s: output-only field must not be in a sample" % key)
    for i, item in enumerate(raw.get("actionItems", []) or []):
        if isinstance(item, dict):
            for key in OUTPUT_ONLY_ACTION:
                if key in item:
                    problems.append(
                        "actionItems[%d].%s: output-only field must not be in a sample" % (i, key))


def walk_strings(message, path, problems):
    """All string fields: valid UTF-8 (guaranteed by parse), no NUL, size limits."""
    for field, value in message.ListFields():
        name = "%s.%s" % (path, field.name) if path else field.name
        if field.type == field.TYPE_MESSAGE:
            if field.label == field.LABEL_REPEATED:
                if len(value) > MAX_LIST_ITEMS:
                    problems.append("%s: more than %d items" % (name, MAX_LIST_ITEMS))
                for i, sub in enumerate(value):
                    walk_strings(sub, "%s[%d]" % (name, i), problems)
            else:
                walk_strings(value, name, problems)
        elif field.type == field.TYPE_STRING:
            values = list(value) if field.label == field.LABEL_REPEATED else [value]
            if len(values) > MAX_LIST_ITEMS:
                problems.append("%s: more than %d items" % (name, MAX_LIST_ITEMS))
            for i, text in enumerate(values):
                where = "%s[%d]" % (name, i) if field.label == field.LABEL_REPEATED else name
                if "\x00" in text:
                    problems.append("%s: contains a NUL character" % where)
                try:
                    size = len(text.encode("utf-8"))
                except UnicodeEncodeError:
                    problems.append("%s: not valid UTF-8" % where)
                    continue
                limit = limit_for(field.name)
                if size > limit:
                    problems.append("%s: %d bytes, limit %d" % (where, size, limit))
                if field.label == field.LABEL_REPEATED and not text.strip():
                    problems.append("%s: empty entry" % where)


def limit_for(field_name):
    if field_name in ("team", "services", "tags", "owner", "name", "role",
                      "due_date", "external_id", "recurrence_of"):
        return MAX_SHORT_TEXT
    if field_name == "title":
        return MAX_TITLE
    if field_name == "log_lines":
        return MAX_LOG_LINE
    return MAX_LONG_TEXT


def ts(timestamp):
    return timestamp.seconds + timestamp.nanos / 1e9


def check_content(pm, pb, problems):
    P = pb.Postmortem
    for field in ("team", "title", "summary"):
        if not getattr(pm, field).strip():
            problems.append("%s: required" % field)
    if pm.team and not LOWER_NAME.match(pm.team):
        problems.append("team: %r is not a lowercase name" % pm.team)
    if pm.severity == 0:
        problems.append("severity: required")
    if pm.status != P.PUBLISHED:
        problems.append("status: samples are PUBLISHED")
    if not pm.HasField("started_at"):
        problems.append("startedAt: required")
    if len(pm.services) < 1:
        problems.append("services: at least one required")
    for i, name in enumerate(pm.services):
        if not LOWER_NAME.match(name):
            problems.append("services[%d]: %r is not a lowercase name" % (i, name))
    for i, name in enumerate(pm.tags):
        if not LOWER_NAME.match(name):
            problems.append("tags[%d]: %r is not a lowercase name" % (i, name))
    if len(set(pm.services)) != len(pm.services):
        problems.append("services: duplicates")
    if len(set(pm.tags)) != len(pm.tags):
        problems.append("tags: duplicates")

    # Time order: started <= detected <= mitigated <= resolved (those present).
    order = [("startedAt", "started_at"), ("detectedAt", "detected_at"),
             ("mitigatedAt", "mitigated_at"), ("resolvedAt", "resolved_at")]
    present = [(json_name, ts(getattr(pm, name))) for json_name, name in order
               if pm.HasField(name)]
    for (a, ta), (b, tb) in zip(present, present[1:]):
        if ta > tb:
            problems.append("%s is after %s" % (a, b))
    if pm.HasField("impact") and pm.impact.HasField("duration"):
        if pm.impact.duration.seconds < 0:
            problems.append("impact.duration: negative")
    if pm.impact.users_affected < 0:
        problems.append("impact.usersAffected: negative")
    if pm.detection.source == 0:
        problems.append("detection.source: required")

    times = [ts(e.at) for e in pm.timeline]
    for i, event in enumerate(pm.timeline):
        if not event.HasField("at"):
            problems.append("timeline[%d].at: required" % i)
        if not event.description.strip():
            problems.append("timeline[%d].description: required" % i)
    if times != sorted(times):
        problems.append("timeline: events are not in time order")

    if len(pm.whys) != 5:
        problems.append("whys: %d steps, expected exactly 5" % len(pm.whys))
    for i, why in enumerate(pm.whys):
        if not why.question.strip() or not why.answer.strip():
            problems.append("whys[%d]: question and answer required" % i)

    if not pm.root_causes:
        problems.append("rootCauses: at least one required")
    for i, cause in enumerate(pm.root_causes):
        if cause.category == 0:
            problems.append("rootCauses[%d].category: required" % i)
        if not cause.description.strip():
            problems.append("rootCauses[%d].description: required" % i)

    for i, item in enumerate(pm.action_items):
        where = "actionItems[%d]" % i
        if not item.description.strip():
            problems.append("%s.description: required" % where)
        if not item.owner:
            problems.append("%s.owner: required" % where)
        elif not OWNER.match(item.owner):
            problems.append("%s.owner: %r is not exactly one person or team" % (where, item.owner))
        if not DATE.match(item.due_date):
            problems.append("%s.dueDate: %r is not YYYY-MM-DD" % (where, item.due_date))
        else:
            try:
                datetime.date.fromisoformat(item.due_date)
            except ValueError:
                problems.append("%s.dueDate: %r is not a calendar date" % (where, item.due_date))
        if item.status == 0:
            problems.append("%s.status: required" % where)
        closed = item.status in (pb.ActionItem.DONE, pb.ActionItem.WONT_DO)
        if item.HasField("completed_at"):
            if not closed:
                problems.append("%s.completedAt: only a DONE or WONT_DO item is completed" % where)
            elif ts(item.completed_at) < ts(pm.started_at):
                problems.append("%s.completedAt: before the incident started" % where)
            elif ts(item.completed_at) > datetime.datetime.now(datetime.timezone.utc).timestamp():
                problems.append("%s.completedAt: in the future" % where)
        if item.kind == 0:
            problems.append("%s.kind: required" % where)

    facilitators = sum(1 for p in pm.participants if p.facilitator)
    if facilitators != 1:
        problems.append("participants: %d facilitators, expected exactly 1" % facilitators)
    for i, person in enumerate(pm.participants):
        if not person.name.strip():
            problems.append("participants[%d].name: required" % i)

    for i, link in enumerate(pm.links):
        if not link.url.startswith(("https://", "http://")):
            problems.append("links[%d].url: not an http(s) URL" % i)


def check_file(path, pb, json_format):
    problems = []
    name = os.path.basename(path)
    if not FILE_NAME.match(name):
        problems.append("file name is not NN-short-slug.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return ["cannot read as UTF-8: %s" % e]
    if "\x00" in text:
        return ["contains a NUL byte"]
    try:
        raw = json.loads(text)
    except ValueError as e:
        return ["not JSON: %s" % e]
    if not isinstance(raw, dict):
        return ["top level is not a JSON object"]
    check_keys(raw, "", problems)
    check_output_only(raw, problems)
    message = pb.Postmortem()
    try:
        json_format.Parse(text, message, ignore_unknown_fields=False)
    except json_format.ParseError as e:
        problems.append("does not parse as deja.v1.Postmortem: %s" % str(e).splitlines()[0])
        return problems
    walk_strings(message, "", problems)
    check_content(message, pb, problems)
    return problems


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: check_samples.py PROTOS_DIR SAMPLES_DIR")
    protos_dir, samples_dir = argv[1], argv[2]
    files = sorted(glob.glob(os.path.join(samples_dir, "*.json")))
    if not files:
        sys.exit("check_samples: no *.json files in %s" % samples_dir)
    out_dir = tempfile.mkdtemp(prefix="deja-samplegen-")
    try:
        pb = generate_classes(protos_dir, out_dir)
        from google.protobuf import json_format
        bad = 0
        for path in files:
            problems = check_file(path, pb, json_format)
            if problems:
                bad += 1
                for problem in problems:
                    print("%s: %s" % (os.path.basename(path), problem))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    if bad:
        print("%d of %d samples have problems" % (bad, len(files)))
        return 1
    print("%d samples OK" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
