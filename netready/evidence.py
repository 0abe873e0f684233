"""Shared evidence: a value that many targets (or one target twice) carry is written once and referenced.

A national batch repeats the same facts thousands of times: the DNSKEY and DS sets and signatures of the
root, vn. and gov.vn., a hosting provider's certificate chain, the same accepted suites, the same messages.
The journal and the report store such a value once, in a table of numbered definitions, and put a
reference where it occurs:

    {"$": 12}                 the value of definition 12
    {"$": 12, "$with": {...}} the object of definition 12 with these members' values replaced (same members,
                              same order): a record that differs from a shared one in a few fields, such as
                              an answer from another server address that differs only in its round-trip time
    {"$literal": {...}}       a dict that happens to look like a reference (or like this escape), as is

What is shared is decided from the JSON itself, never from what a probe is: any object or array whose
compact JSON is at least MIN_BYTES long becomes a definition when it occurs twice in one target's record,
or when it was already seen in another target's record (a bounded memory of recent values: a value seen
again much later is simply written again). An object of at least MIN_BYTES that is not shared as a whole
is written as the changes from the last shared object with the same members in the same order, when at
most half of its members differ (the first object of each shape becomes that base). The observations and
findings themselves are never written as changes, so each entry stays readable on its own. So probes stay
simple and new fields are shared without any change here. Definitions may contain references to earlier
definitions.

Reading resolves every reference to one object per definition: equal evidence is also one object in
memory. Resolved values are shared, so readers must treat observation data as read-only (evaluators and
renderers do).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

REF = "$"
WITH = "$with"
LITERAL = "$literal"
MIN_BYTES = 64  # smaller values cost about as much as a reference to them ({"$":1234} is 10 bytes)
# Bounds of what the writer remembers. A lab target brings about 65 large values, so 32,768 digests filled up
# after about 500 targets per process, holding about 8 MB; a quarter of that keeps the report within 1 %
# (11.9 -> 12.0 kB per portal on the lab's 1,000-name sweep) for about 6 MB less in every checking process.
SEEN_MAX = 8192  # recently seen values remembered (digests only): the last hundred or so targets
SHARED_MAX = 4096  # definitions remembered for reuse; one forgotten and seen again is defined anew
SHAPES_MAX = 256  # object shapes (member names in order) remembered, each with its latest shared object
_DIGEST = 12  # bytes of BLAKE2b: a collision between two different values needs ~2^48 distinct values


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default, check_circular=False).encode
_STRING = json.encoder.encode_basestring  # the C escaper json.dumps uses with ensure_ascii=False


def dumps(value: Any) -> str:
    """Compact JSON as netready writes it (UTF-8 text, no spaces)."""
    return _ENCODE(value)


def _scalar(value: Any) -> str:
    t = type(value)
    if t is str:
        return _STRING(value)
    if value is None:
        return "null"
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return int.__repr__(value)
    if t is float and value - value == 0:  # finite: json writes float.__repr__ (NaN and infinities differ)
        return float.__repr__(value)
    return _ENCODE(value)  # NaN, infinities, int subclasses, anything else


_CONTAINERS = (dict, list, tuple)


_RESERVED = ({REF}, {LITERAL}, {REF, WITH})


def _needs_escape(d: dict) -> bool:
    return len(d) <= 2 and set(d) in _RESERVED


class Interner:
    """Encodes records (one target's results) as compact JSON text with references to shared values.

    Usage per record: `begin(owner, values)`, then `encode(value)` for each part, then `end()` returns the
    definitions this record created, {id: JSON text}, children before parents. Ids grow from `next_id` by
    `id_step` (a resumed journal continues after its largest id; the checking processes of one batch each
    take every n-th id), so every id is defined exactly once per journal.
    """

    def __init__(self, next_id: int = 1, min_bytes: int = MIN_BYTES, seen_max: int = SEEN_MAX,
                 shared_max: int = SHARED_MAX, id_step: int = 1) -> None:
        self.next_id = next_id
        self.id_step = id_step  # several interners writing one journal: each its own residue of the ids
        self.min_bytes = min_bytes
        self.seen_max = seen_max
        self.shared_max = shared_max
        self._seen: OrderedDict[bytes, int] = OrderedDict()  # digest -> owner that first had it
        self._shared: OrderedDict[bytes, int] = OrderedDict()  # digest -> definition id
        self._shapes: OrderedDict[tuple[str, ...], tuple[int, dict[str, str]]] = OrderedDict()
        self._owner = 0
        self._memo: dict[int, tuple[str, bytes | None]] = {}
        self._marks: list[tuple[str, str]] = []
        self._local: dict[bytes, int] = {}
        self._defs: dict[int, str] = {}
        self._keep: list[Any] = []  # the record's values: ids in _memo stay valid while it is encoded

    def __len__(self) -> int:
        return len(self._shared)

    # --- one record ---------------------------------------------------------------------------------------

    def begin(self, owner: int, values: Iterable[Any], names: list[str] | None = None) -> None:
        """Start a record; `values` are all it will encode (measured first, for values it repeats itself).
        names: the record's values have its names written as marks (with_marks); a part that other records
        carry unmarked (a certificate naming many portals) is then shared in its unmarked form."""
        self._owner = owner
        self._marks = list(zip(NAME_MARKS, names, strict=False)) if names else []
        self._memo = {}
        self._local = {}
        self._defs = {}
        self._keep = list(values)
        for value in self._keep:
            if type(value) in _CONTAINERS:
                self._measure(value)

    def encode_entry(self, value: Any) -> str:
        """An observation or a finding: shared whole when it repeats, never written as changes of another."""
        return self.encode(value, whole=True)

    def _measure(self, value: Any) -> tuple[str, bytes | None]:
        """The compact JSON of a container (one C call) and, when it is large, its digest, counted to find what
        this record repeats itself. Only the parts of a large value are measured in turn: a small value is
        never looked into (most of a record), so the work stays close to serialising it once per level."""
        text = _ENCODE(value)
        digest = None
        if len(text) >= self.min_bytes:
            digest = hashlib.blake2b(text.encode(), digest_size=_DIGEST).digest()
            seen = self._local.get(digest, 0)
            self._local[digest] = seen + 1
            # The parts of a repeated value were counted with its first occurrence; a value already shared, or
            # seen in another record, is written as a reference (or defined, its parts measured then): its
            # parts need no counting here.
            elsewhere = digest in self._shared or self._seen.get(digest, self._owner) != self._owner
            if not seen and not elsewhere:
                for child in value.values() if type(value) is dict else value:
                    if type(child) in _CONTAINERS:
                        self._measure(child)
        hit = self._memo[id(value)] = (text, digest)
        return hit

    def encode(self, value: Any, whole: bool = False) -> str:
        """The JSON text of value, shared parts replaced by references (definitions collected for end()).
        whole: never write value itself as the changes from another object."""
        if type(value) not in _CONTAINERS:
            return _scalar(value)
        hit = self._memo.get(id(value))
        if hit is None:  # not among the values given to begin(), or inside a small one
            hit = self._measure(value)
        text, digest = hit
        if digest is None:
            return text if '"$' not in text else self._rebuild(value, text)
        ref = self._shared.get(digest)
        if ref is not None:
            self._shared.move_to_end(digest)
            return f'{{"{REF}":{ref}}}'
        if self._marks and any(mark in text for mark, _ in self._marks):
            shared_unmarked = self._unmarked(text)
            if shared_unmarked is not None:
                return shared_unmarked
        first = self._seen.get(digest)
        if self._local.get(digest, 0) >= 2 or (first is not None and first != self._owner):
            return f'{{"{REF}":{self._define(value, text, digest)}}}'
        if first is None:
            self._seen[digest] = self._owner
            while len(self._seen) > self.seen_max:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(digest)
        if not whole and type(value) is dict and all(type(k) is str for k in value) and not _needs_escape(value):
            return self._changes(value, text, digest)
        return self._rebuild(value, text)

    def _unmarked(self, text: str) -> str | None:
        """A reference to the unmarked form of a marked value when other records carry that form (shared, or
        seen in another record: then defined now); else None, the unmarked form noted as seen here. Exact:
        the record holds no mark of its own, so reading a part written unmarked changes nothing."""
        for mark, name in self._marks:
            text = text.replace(mark, name)
        digest = hashlib.blake2b(text.encode(), digest_size=_DIGEST).digest()
        ref = self._shared.get(digest)
        if ref is not None:
            self._shared.move_to_end(digest)
            return f'{{"{REF}":{ref}}}'
        first = self._seen.get(digest)
        if first is not None and first != self._owner:
            value = json.loads(text)
            self._keep.append(value)  # alive while the record is encoded: _memo is keyed by id()
            return f'{{"{REF}":{self._define(value, text, digest)}}}'
        if first is None:
            self._seen[digest] = self._owner
        return None

    def _define(self, value: Any, text: str, digest: bytes) -> int:
        body = self._rebuild(value, text)  # its own shared parts are defined first
        ref = self.next_id
        self.next_id += self.id_step
        self._defs[ref] = body
        self._shared[digest] = ref
        while len(self._shared) > self.shared_max:
            self._shared.popitem(last=False)
        self._seen.pop(digest, None)
        return ref

    def _member_texts(self, value: dict) -> dict[str, str]:
        return {k: (self._memo.get(id(v)) or self._measure(v))[0] if type(v) in _CONTAINERS else _scalar(v)
                for k, v in value.items()}

    def _changes(self, value: dict, text: str, digest: bytes) -> str:
        """value as the changes from the shared object of its shape (members in order), or as a new shared
        object that later ones of its shape change (the first of a shape, or one too different)."""
        shape = tuple(value)
        base = self._shapes.get(shape)
        members = self._member_texts(value)
        if base is not None:
            self._shapes.move_to_end(shape)
            ref, base_members = base
            changed = [k for k, t in members.items() if base_members[k] != t]
            if 2 * len(changed) <= len(members):
                return (f'{{"{REF}":{ref},"{WITH}":{{'
                        + ",".join(f"{_STRING(k)}:{self.encode(value[k])}" for k in changed) + "}}")
        ref = self._define(value, text, digest)
        self._shapes[shape] = (ref, members)
        while len(self._shapes) > SHAPES_MAX:
            self._shapes.popitem(last=False)
        return f'{{"{REF}":{ref}}}'

    def _rebuild(self, value: Any, text: str) -> str:
        """text with the references and escapes its parts need; text itself (the same object) if none. Scalars
        are serialised one by one only on the way to a reference."""
        if type(value) is dict:
            if not all(type(k) is str for k in value):
                return text  # keys json had to convert: written as they are, nothing shared inside
            changed = False
            parts: dict[str, str] = {}
            for k, v in value.items():
                if type(v) in _CONTAINERS:
                    t = parts[k] = self.encode(v)
                    changed = changed or t is not self._memo[id(v)][0]
            escape = _needs_escape(value)
            if not (changed or escape):
                return text
            body = "{" + ",".join(f"{_STRING(k)}:{parts[k] if k in parts else _scalar(v)}"
                                  for k, v in value.items()) + "}"
            return f'{{"{LITERAL}":{body}}}' if escape else body
        texts = [self.encode(v) if type(v) in _CONTAINERS else None for v in value]
        if all(t is None or t is self._memo[id(v)][0] for t, v in zip(texts, value, strict=True)):
            return text
        return "[" + ",".join(t if t is not None else _scalar(v) for t, v in zip(texts, value, strict=True)) + "]"

    def end(self) -> dict[int, str]:
        defs = self._defs
        self._memo, self._local, self._defs, self._keep = {}, {}, {}, []
        return defs


_PLAIN = Interner(min_bytes=1 << 62)  # shares nothing: only escapes what looks like a reference


def plain(value: Any) -> str:
    """Compact JSON of value with nothing shared, escaped so that it reads back as itself."""
    text = dumps(value)
    return text if '"$' not in text else _PLAIN.encode(value)


# --- the target's own names ------------------------------------------------------------------------------
#
# What differs between two portals' evidence is often only their name: "dichvucong.agency0001.gov.vn" in
# observation ids, messages and answers, and its zone "agency0001.gov.vn" in the DNSSEC chain and the name
# server checks. A target's entry stores them as two marks from Unicode's private use area, with the names in
# the entry ("names": [name, zone]), so values that differ only in the name become equal and are shared
# across targets like any other. A target whose evidence already holds a mark (a server can send one) is
# stored as it is, without "names": reading is exact either way.

NAME_MARKS = ("\ue000", "\ue001")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


def stand_in_names(ascii_name: str) -> list[str]:
    """The names a target's entry writes as marks: the name and the name without its first label, when each
    has at least two labels and only the characters of a DNS host name (nothing JSON escapes)."""
    name = ascii_name.lower().rstrip(".")
    if ascii_name != name or not name or not set(name) <= _NAME_CHARS or "." not in name or ".." in name:
        return []
    parent = name.split(".", 1)[1]
    return [name, parent] if "." in parent else [name]


def with_marks(values: list[Any], names: list[str]) -> tuple[list[Any], bool]:
    """values with every occurrence of names[i] (in strings and keys) written as NAME_MARKS[i], and True; or
    values unchanged and False when there is nothing to replace or the values already hold a mark."""
    if not names:
        return values, False
    text = _ENCODE(values)
    if any(mark in text for mark in NAME_MARKS) or names[0] not in text and names[-1] not in text:
        return values, False
    for name, mark in zip(names, NAME_MARKS, strict=False):  # the name before its parent (a suffix of it)
        text = text.replace(name, mark)
    return json.loads(text), True


def without_marks(values: list[Any], names: list[str]) -> list[Any]:
    """The inverse of with_marks (references already resolved). Containers are rebuilt only where a mark is
    found, once per call (a value shared within the entry stays one object); shared values are never changed."""
    pairs = list(zip(NAME_MARKS, names, strict=False))
    memo: dict[int, Any] = {}

    def unmark(value: Any) -> Any:
        kind = type(value)
        if kind is str:
            for mark, name in pairs:
                if mark in value:
                    value = value.replace(mark, name)
            return value
        if kind is not dict and kind is not list:
            return value
        done = memo.get(id(value))
        if done is not None:
            return done
        if kind is dict:
            items = {unmark(k): unmark(v) for k, v in value.items()}
            same = all(a is b for a, b in zip(items, value, strict=True)) and all(
                items[k] is value[k] for k in value)
            new = value if same else items
        else:
            listed = [unmark(v) for v in value]
            new = value if all(a is b for a, b in zip(listed, value, strict=True)) else listed
        memo[id(value)] = new
        return new

    return [unmark(v) for v in values]


# --- reading --------------------------------------------------------------------------------------------


class UnknownReference(ValueError):
    """A reference to a definition the file does not hold."""


class Resolver:
    """Turns references back into values: each definition decoded once, then the same object everywhere.

    `source(id)` returns a definition's raw (parsed, unresolved) value or raises KeyError; it may read a
    table in memory (a report) or seek in a journal. `cache`: decoded definitions kept (None: all of them).
    """

    def __init__(self, source: Callable[[int], Any], cache: int | None = None) -> None:
        self._source = source
        self._cache: OrderedDict[int, Any] = OrderedDict()
        self._limit = cache
        self._busy: set[int] = set()

    def definition(self, ref: int) -> Any:
        hit = self._cache.get(ref, _MISSING)
        if hit is not _MISSING:
            self._cache.move_to_end(ref)
            return hit
        if ref in self._busy:
            raise UnknownReference(f"definition {ref} refers to itself")
        try:
            raw = self._source(ref)
        except (KeyError, IndexError):
            raise UnknownReference(f"reference to shared value {ref}, which is not defined") from None
        self._busy.add(ref)
        try:
            value = self.resolve(raw)
        finally:
            self._busy.discard(ref)
        self._cache[ref] = value
        if self._limit is not None and len(self._cache) > self._limit:
            self._cache.popitem(last=False)
        return value

    def resolve(self, value: Any) -> Any:
        """value with every reference replaced (containers are rebuilt only where something changed)."""
        if isinstance(value, dict):
            if len(value) == 1:
                if REF in value:
                    ref = value[REF]
                    if type(ref) is not int:
                        raise UnknownReference(f"malformed reference {value!r}")
                    return self.definition(ref)
                if LITERAL in value and isinstance(value[LITERAL], dict):
                    return self._resolve_dict(value[LITERAL])
            elif len(value) == 2 and REF in value and WITH in value:
                base, changes = self.definition(value[REF]) if type(value[REF]) is int else None, value[WITH]
                if not isinstance(base, dict) or not isinstance(changes, dict) or not set(changes) <= set(base):
                    raise UnknownReference(f"malformed changed reference {value!r}")
                return {k: (self.resolve(changes[k]) if k in changes else v) for k, v in base.items()}
            return self._resolve_dict(value)
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, (dict, list)):
                    new = self.resolve(item)
                    if new is not item:
                        value[i] = new
            return value
        return value

    def _resolve_dict(self, d: dict) -> dict:
        for k, item in d.items():
            if isinstance(item, (dict, list)):
                new = self.resolve(item)
                if new is not item:
                    d[k] = new
        return d


_MISSING = object()


def table_resolver(table: dict[str, Any]) -> Resolver:
    """A resolver over a report's "shared" table ({"12": value}), every definition decoded at most once."""
    return Resolver(lambda ref: table[str(ref)])
