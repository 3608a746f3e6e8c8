#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check what tsmtrace wrote in JSON against docs/tsmtrace-report.schema.json.

    json-check.py SCHEMA FILE...

Each FILE is one output: NAME.lines is the standard output of a 'tsmtrace
-j' run (JSON Lines), NAME.summary a 'check --summary' file, NAME.tail a
text run whose last line is the summary ('--summary -'). An output passes
when its bytes are UTF-8, every line is one JSON object without a repeated
key, every object is valid under the schema, and (JSON Lines) it ends with
a verdict, an error or a summary object and no event or violation comes
after the last of them.

Prints one line per output that fails, then 'N outputs, N objects: N bad';
exits 1 when any failed.
"""
import json
import sys

import jsonschema

FINAL = ("verdict", "error", "summary")


def no_repeats(pairs):
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError("repeated key(s) %s" % ", ".join(dup))
    return dict(pairs)


def root(validator):
    """The definitions a $ref into the schema needs."""
    return {"$defs": validator.schema["$defs"], "$schema": validator.schema["$schema"]}


def check_output(validator, path):
    """The objects of one output and what is wrong with it (or None)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        return 0, "not UTF-8 at byte %d" % e.start
    lines = text.splitlines()
    if path.endswith(".tail"):
        lines = lines[-1:]
    if not lines:
        return 0, "no output"
    objs = []
    for i, line in enumerate(lines, 1):
        try:
            obj = json.loads(line, object_pairs_hook=no_repeats)
        except ValueError as e:
            return len(objs), "line %d: not one JSON object: %s: %.200s" % (i, e, line)
        if not isinstance(obj, dict):
            return len(objs), "line %d: not an object" % i
        err = jsonschema.exceptions.best_match(validator.iter_errors(obj))
        if err is not None and obj.get("type") in validator.schema["$defs"]:
            # say what is wrong against the object's own kind, not "none of"
            branch = validator.evolve(schema={"$ref": "#/$defs/" + obj["type"], **root(validator)})
            err = jsonschema.exceptions.best_match(branch.iter_errors(obj)) or err
        if err is not None:
            where = "/".join(str(p) for p in err.absolute_path) or "(the object)"
            return len(objs), "line %d: %s: %s: %.300s" % (i, where, err.message, line)
        objs.append(obj)
    if path.endswith(".lines"):
        if objs[-1]["type"] not in FINAL:
            return len(objs), "ends with a %s object, not a verdict, error or summary" % objs[-1]["type"]
    return len(objs), None


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f, object_pairs_hook=no_repeats)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    bad = nobj = 0
    for path in argv[2:]:
        n, why = check_output(validator, path)
        nobj += n
        if why:
            bad += 1
            print("%s: %s" % (path, why))
    print("%d outputs, %d objects: %d bad" % (len(argv) - 2, nobj, bad))
    return 1 if bad or len(argv) == 2 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
