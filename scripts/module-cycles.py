#!/usr/bin/env python3
"""Lists the module cycles inside one crate (module A uses B and B uses A).

    scripts/module-cycles.py crates/carrier/src

Reads every `crate::`, `super::` and `self::` path in the crate's files (in
`use` lines and inline), and the `use child::` of modules a file declares,
resolves each to the deepest file module it names, and prints every strongly
connected group of more than one module. A parent module declaring its
children (`mod x;`) or re-exporting their items (`pub use x::Item;`) is not
counted as using them; a child using its parent's items is. Exit status 1
when a cycle is found.

A regex reading, not a compiler: it is meant for a quick check, and it errs
toward reporting (a path in a string counts; comment lines do not).
"""

import os
import re
import sys

PATH = re.compile(r"\b(crate|super|self)((?:::(?:super|[A-Za-z_][A-Za-z0-9_]*))*)(::\{)?")
USE_CHILD = re.compile(r"^\s*use\s+([a-z_][a-z0-9_]*)::", re.M)
MOD_DECL = re.compile(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_][a-z0-9_]*)\s*;", re.M)
INLINE_MOD = re.compile(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_][a-z0-9_]*)\s*\{", re.M)
REEXPORT = re.compile(r"^\s*pub(?:\([a-z]+\))?\s+use\s+([^;]+);", re.M)


def inline_spans(text):
    """`(start, end, name)` of every inline `mod name { ... }` block."""
    spans = []
    for found in INLINE_MOD.finditer(text):
        depth = 1
        for i in range(found.end(), len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                spans.append((found.end(), i, found.group(1)))
                break
    return spans


def brace_items(text, start):
    """The top-level items of the `{...}` group that opens just before `start`."""
    depth, items, item = 1, [], ""
    for ch in text[start:]:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and ch == ",":
            items.append(item)
            item = ""
        elif depth == 1 and ch != "}":
            item += ch
    items.append(item)
    return [re.match(r"\s*([A-Za-z0-9_:]*)", i).group(1).rstrip(":") for i in items]


def module_of(src, path):
    rel = os.path.relpath(path, src)[: -len(".rs")].split(os.sep)
    if rel[-1] in ("lib", "main", "mod"):
        rel = rel[:-1]
    return tuple(rel)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    files = {}
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(root, name)
                text = open(path, encoding="utf-8").read()
                # Comment lines name paths in prose and doc links: not uses.
                text = "\n".join("" if line.lstrip().startswith("//") else line for line in text.split("\n"))
                files[module_of(src, path)] = text
    # Re-exports are a module's interface, not its uses: read apart.
    uses = {m: REEXPORT.sub("", text) for m, text in files.items()}
    modules = set(files)

    def deepest(parts):
        for n in range(len(parts), -1, -1):
            if tuple(parts[:n]) in modules:
                return tuple(parts[:n])
        return None

    def resolve(m, inner, head, tail):
        """The path `head::tail` names, written in file module `m` inside inline modules `inner`."""
        here = list(m) + inner
        base = [] if head == "crate" else here if head == "self" else here[:-1]
        for s in tail:
            if s == "super":
                base = base[:-1]
            elif s and s != "self":
                base.append(s)
        return base

    def paths(m, text):
        """Every path a file names, resolved to the crate root."""
        children = set(MOD_DECL.findall(text))
        spans = inline_spans(text)
        found_paths = []
        for found in PATH.finditer(text):
            head, tail, brace = found.groups()
            if not tail and not brace:
                continue  # `self.field`, `&self`, "the crate's docs"
            inner = [name for start, end, name in spans if start <= found.start() < end]
            base = resolve(m, inner, head, tail.split("::")[1:])
            if brace:
                # `use super::{a::X, b}`: each item names its own path.
                for item in brace_items(text, found.end()):
                    found_paths.append(base + [s for s in item.split("::") if s and s != "self"])
            found_paths.append(base)
        for found in USE_CHILD.finditer(text):
            if found.group(1) in children:
                found_paths.append(list(m) + [found.group(1)])
        return found_paths

    # `pub use x::Item` in a module: a path through it to `Item` leads to `x`.
    reexports = {}
    for m, text in files.items():
        for found in REEXPORT.finditer(text):
            spec = found.group(1).strip()
            head, _, rest = spec.partition("::")
            if head not in ("crate", "super", "self"):
                if head not in set(MOD_DECL.findall(text)):
                    continue  # another crate's item
                head, rest = "self", spec
            prefix, brace, items = rest.partition("{")
            tail = [s for s in prefix.split("::") if s]
            names = [i.strip() for i in items.rstrip("}").split(",")] if brace else [tail.pop()] if tail else []
            target = resolve(m, [], head, tail)
            for name in names:
                alias = name.split(" as ")[-1].split("::")[-1].strip()
                reexports[(m, alias)] = target + [s for s in name.split(" as ")[0].split("::")[:-1] if s]

    def deepest(parts):
        for _ in range(8):
            for n in range(len(parts), -1, -1):
                if tuple(parts[:n]) in modules:
                    module = tuple(parts[:n])
                    break
            if n < len(parts) and (module, parts[n]) in reexports:
                parts = reexports[(module, parts[n])] + parts[n:]
                continue
            return module
        return module

    edges = {m: set() for m in modules}
    for m, text in uses.items():
        for t in paths(m, text):
            d = deepest(t)
            if d != m:
                edges[m].add(d)

    # Tarjan's strongly connected components.
    index, low, stack, on, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    sys.setrecursionlimit(10_000)
    for v in sorted(modules):
        if v not in index:
            visit(v)

    name = lambda m: "::".join(m) or "crate"
    for group in groups:
        members = set(group)
        print("cycle: " + ", ".join(sorted(name(m) for m in group)))
        for a in sorted(group):
            for b in sorted(edges[a] & members):
                print(f"  {name(a)} -> {name(b)}")
    if not groups:
        print(f"no module cycles in {src} ({len(modules)} modules)")
    return 1 if groups else 0


if __name__ == "__main__":
    sys.exit(main())
