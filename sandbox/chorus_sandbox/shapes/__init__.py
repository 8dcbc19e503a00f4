"""Chorus Pro's published request and reply shapes: one JSON fixture per operation.

Each fixture names where its shape comes from (the public clients generated from Chorus Pro's
specification, the project's fact sheet, production connectors). The sandbox builds its replies
from these fixtures and refuses requests with keys they do not have; the module's tests parse
them and compare what the sandbox answers with them. They are the one source of truth for shapes:
a change of shape is made here, with its source, and nowhere else.

A fixture: ``{"operation", "method", "sources": [...], "notes"?, "request": {...}, "reply": {...},
"variants": [{"source", "request"?, "reply"?}]}``. ``reply`` is the shape the sandbox answers;
``variants`` are other readings of the sources (another client's key names, values as strings,
a list sent as one object), which the client must read as well.
"""

import copy
import functools
import json
from importlib import resources

# The fixture of an operation path: "factures/v1/consulter/recipiendaire" -> factures.consulter.recipiendaire
_SPECIAL = {"oauth/token": "oauth.token", "*": "error"}


def fixture_name(operation):
    if operation in _SPECIAL:
        return _SPECIAL[operation]
    api, _version, *rest = operation.split("/")
    return ".".join([api, *rest])


@functools.lru_cache(maxsize=None)
def _load(name):
    text = resources.files(__name__).joinpath("%s.json" % name).read_text("utf-8")
    return json.loads(text)


def fixture(operation):
    """The fixture of ``operation`` (a copy: callers may change it)."""
    return copy.deepcopy(_load(fixture_name(operation)))


def operations():
    """Every operation that has a fixture."""
    names = sorted(entry.name[:-5] for entry in resources.files(__name__).iterdir()
                   if entry.name.endswith(".json"))
    return [_load(name)["operation"] for name in names]


# ----------------------------------------------------------------- shapes
def _merge(items):
    """One shape for the items of a list: the union of the keys of its objects."""
    merged = None
    for item in items:
        if isinstance(item, dict):
            merged = dict(merged) if isinstance(merged, dict) else {}
            for key, value in item.items():
                merged[key] = _merge([merged[key], value]) if key in merged else value
        elif isinstance(item, list):
            merged = [_merge((merged or []) + item)] if item or merged else []
        elif merged is None:
            merged = item
    return merged


def differences(reference, value, path=""):
    """Where ``value`` does not have the keys of ``reference``: ["missing a.b", "extra a.c", ...].

    Objects must have exactly the reference's keys; the items of a list are compared with the
    union of the reference's items; null stands for any value (an empty object, list or scalar).
    """
    if value is None or reference is None:
        return []
    if isinstance(reference, dict):
        if not isinstance(value, dict):
            return ["%s: an object was expected, not %s" % (path or "reply", type(value).__name__)]
        found = ["missing %s%s" % (path, key) for key in reference if key not in value]
        found += ["extra %s%s" % (path, key) for key in value if key not in reference]
        for key in reference:
            if key in value:
                found += differences(reference[key], value[key], "%s%s." % (path, key))
        return found
    if isinstance(reference, list):
        if not isinstance(value, list):
            return ["%s: a list was expected, not %s" % (path.rstrip("."), type(value).__name__)]
        item = _merge(reference)
        found = []
        for index, element in enumerate(value):
            for difference in differences(item, element, "%s[%s]." % (path.rstrip("."), index)):
                if difference not in found:
                    found.append(difference)
        return found
    if isinstance(value, (dict, list)):
        return ["%s: a %s was expected, not %s" % (path.rstrip("."), type(reference).__name__,
                                                   type(value).__name__)]
    return []


def request_shape(operation):
    """Every key a request may carry: the fixture's request and its variants' together."""
    data = _load(fixture_name(operation))
    return _merge([data["request"]] + [v["request"] for v in data.get("variants", []) if "request" in v])


def unknown_request_keys(operation, payload):
    """The keys of ``payload`` that no source gives to this operation's request."""
    return [d[len("extra "):] for d in differences(request_shape(operation), payload) if d.startswith("extra ")]


def reply_differences(operation, reply):
    """How ``reply`` differs from the published reply of ``operation`` (nothing: [])."""
    return differences(_load(fixture_name(operation))["reply"], reply)


# ---------------------------------------------------------------- building
def build(operation, values):
    """A reply of ``operation`` with exactly the published keys, filled from ``values``.

    A key of ``values`` that the published reply does not have is a bug of the caller (KeyError);
    a published key ``values`` lacks is null, or an empty object or list of the published shape.
    """
    return _build(_load(fixture_name(operation))["reply"], values, operation + ":")


def _build(template, values, path):
    if isinstance(template, dict):
        values = {} if values is None else values
        if not isinstance(values, dict):
            raise TypeError("%s expects an object" % path)
        unknown = set(values) - set(template)
        if unknown:
            raise KeyError("%s has no key %s" % (path, ", ".join(sorted(unknown))))
        return {key: _build(sub, values.get(key), "%s%s." % (path, key)) if isinstance(sub, (dict, list))
                else values.get(key) for key, sub in template.items()}
    if isinstance(template, list):
        if values is None:
            return []
        item = _merge(template)
        return [_build(item, element, path + "[].") if isinstance(item, (dict, list)) else element
                for element in values]
    return values
