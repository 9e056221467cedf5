#!/usr/bin/env python3
"""The crate's floors, checked: run by `.ci/run` (`python3 scripts/layers.py`).

Every file under `src/async_database_functions/` is a module on one floor, by its folder:

    0 core/             driver-neutral vocabulary (the configuration map among it); imports
                        nothing else of the crate
    1 dialect/          the executors, one per backend; per-backend SQL; pool health
    2 topology/         hosts, replicas, retry
    3 statements/       statements, sessions, schema, writes
    4 (the folder itself) the public API, and mod.rs, which re-exports public paths

An import is any `use` of, or path into, another module of the crate (comments, doc links and
`#[cfg(test)]` modules aside), resolved through re-exports (`pub use`). The check fails when
 - a `core/` module imports a module of another floor;
 - an import runs from a lower floor to a higher one without a `// upward: <why>` comment on
   its line or the line above, or there are more than 3 such imports;
 - modules import each other in a circle (a folder's `mod.rs` and the files it declares count
   as modules too: a `mod.rs` using a child through `child::…` imports it).
`--graph` prints every module's imports.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "async_database_functions")
FLOORS = ["core", "dialect", "topology", "statements"]
NAMES = FLOORS + ["api"]
MAX_UPWARD = 3


def module_of(rel):
    m = rel[:-3]
    if m.endswith("/mod"):
        m = m[:-4]
    return "" if m == "mod" else m


def floor(mod):
    top = mod.split("/")[0]
    return FLOORS.index(top) if top in FLOORS else len(FLOORS)


def strip(src):
    """Source without comments (but `// upward:` ones), string contents and test modules;
    newlines kept, so that line numbers still hold."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            if "upward:" in src[i:j]:
                out.append(src[i:j])
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', src[i:]).group(1)
            j = src.find('"' + hashes, i + 2 + len(hashes))
            j = n if j < 0 else j + 1 + len(hashes)
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\[^']+|[^\\'])'", src[i:])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    text = "".join(out)
    # Test modules, wherever they are (their braces match once strings are gone).
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*mod \w+\s*\{", text)
        if not m:
            return text
        depth, j = 0, m.end() - 1
        while j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
            if depth == 0:
                break
        text = text[: m.start()] + "\n" * text.count("\n", m.start(), j) + text[j:]


def expand(tree):
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = re.sub(r"\s+as\s+", "@", tree)
    tree = re.sub(r"\s+", "", tree)
    if "{" not in tree:
        return [tree]
    i = tree.index("{")
    head, body = tree[:i], tree[i + 1 : tree.rindex("}")]
    items, depth, cur = [], 0, ""
    for ch in body:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        items.append(cur)
    return [leaf for it in items for leaf in expand(head + it)]


def main():
    files = {}
    for d, _, fs in os.walk(ROOT):
        for f in fs:
            if f.endswith(".rs"):
                rel = os.path.relpath(os.path.join(d, f), ROOT).replace(os.sep, "/")
                files[module_of(rel)] = open(os.path.join(d, f), encoding="utf-8").read()
    mods = set(files)

    def absolute(mod, path):
        segs = path.split("::")
        if segs[0] == "crate":
            if len(segs) < 2 or segs[1] != "async_database_functions":
                return None
            return segs[2:]
        base = mod.split("/") if mod else []
        if segs[0] == "self":
            return base + segs[1:]
        if segs[0] != "super":
            return None
        while segs and segs[0] == "super":
            base = base[:-1]
            segs = segs[1:]
        return base + segs

    # Re-exports: "module/path::Name" -> absolute segments it stands for.
    aliases = {}
    for mod, src in files.items():
        for m in re.finditer(r"\bpub(?:\([a-z]+\))?\s+use\s+([^;]+);", strip(src)):
            for leaf in expand(m.group(1)):
                leaf = leaf.split("@")[0]
                target = absolute(mod, leaf)
                if target is None and not leaf.startswith("crate::"):
                    target = (mod.split("/") if mod else []) + leaf.split("::")
                if target is None and not leaf.startswith(("crate", "super", "self")):
                    target = (mod.split("/") if mod else []) + leaf.split("::")
                if target:
                    name = target[-1] if target[-1] != "self" else target[-2]
                    aliases[(mod, name)] = [t for t in target if t != "self"]
        for m in re.finditer(r"(?s)\bpub mod (\w+)\s*\{(.*?)\n\}", files[mod]):
            inner = (mod + "/" if mod else "") + m.group(1)
            for u in re.finditer(r"\bpub use\s+([^;]+);", m.group(2)):
                for leaf in expand(u.group(1)):
                    target = absolute(mod, leaf.replace("super::", "", 1)) if leaf.startswith("super::") else None
                    if target:
                        aliases[(inner, target[-1])] = target

    def resolve(segs, depth=0):
        """The module a path leads to (its longest module prefix, through re-exports)."""
        for i in range(len(segs), 0, -1):
            m = "/".join(segs[:i])
            if m in mods:
                rest = segs[i:]
                if rest and (m, rest[0]) in aliases and depth < 8:
                    return resolve(aliases[(m, rest[0])] + rest[1:], depth + 1)
                return m
            if i < len(segs) and (m, segs[i]) in aliases and depth < 8:
                return resolve(aliases[(m, segs[i])] + segs[i + 1 :], depth + 1)
        if segs and ("", segs[0]) in aliases and depth < 8:
            return resolve(aliases[("", segs[0])] + segs[1:], depth + 1)
        return None

    edges = {}  # (from, to) -> [(line, justified)]
    for mod, src in files.items():
        text = strip(src)
        lines = text.split("\n")
        found = []
        for m in re.finditer(r"\buse\s+([^;]+);", text):
            line = text.count("\n", 0, m.start())
            found += [(leaf, line) for leaf in expand(m.group(1))]
        for m in re.finditer(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", text):
            found.append((m.group(1), text.count("\n", 0, m.start())))
        # A parent's paths into the modules it declares (`mod hosts;` ... `hosts::Hosts`).
        for child in re.findall(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+(\w+)\s*;", text, re.M):
            for m in re.finditer(r"(?<![\w:])" + child + r"::[\w{]", text):
                found.append(("self::" + child, text.count("\n", 0, m.start())))
        for path, line in found:
            segs = absolute(mod, path.split("@")[0])
            if not segs:
                continue
            segs = [s for s in segs if s not in ("self", "*")]
            target = resolve(segs)
            if target is None or target == mod or target == "":
                continue
            ok = "upward:" in lines[line] or (line > 0 and "upward:" in lines[line - 1])
            edges.setdefault((mod, target), []).append((line + 1, ok))

    if "--graph" in sys.argv:
        for mod in sorted(mods):
            out = sorted(t for (f, t) in edges if f == mod)
            print(f"{mod or 'mod.rs'} [{NAMES[floor(mod)]}] -> {' '.join(out)}")

    problems = []
    upward = []
    for (f, t), uses in sorted(edges.items()):
        if floor(f) == 0 and floor(t) != 0:
            problems.append(f"core/ imports another floor: {f} -> {t} (line {uses[0][0]})")
        elif floor(f) < floor(t):
            upward.append((f, t, uses))
            for line, ok in uses:
                if not ok:
                    problems.append(
                        f"upward import without a `// upward: <why>` comment: {f} ({NAMES[floor(f)]}) -> {t} ({NAMES[floor(t)]}), line {line}"
                    )
    n_up = sum(len(u) for _, _, u in upward)
    if n_up > MAX_UPWARD:
        problems.append(f"{n_up} upward imports, at most {MAX_UPWARD}")

    # Circles: strongly connected components of more than one module (Tarjan).
    graph = {m: sorted({t for (f, t) in edges if f == m}) for m in mods}
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def connect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(mods):
        if v not in index:
            connect(v)
    for comp in sccs:
        problems.append("modules import each other in a circle: " + ", ".join(c or "mod.rs" for c in comp))

    print(f"layers: {len(mods)} modules, {len(edges)} imports between modules, {n_up} upward (max {MAX_UPWARD}), {len(sccs)} circles")
    for f, t, uses in upward:
        print(f"  upward: {f} -> {t} (lines {', '.join(str(l) for l, _ in uses)})")
    for p in problems:
        print("layers: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
