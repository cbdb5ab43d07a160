#!/usr/bin/env python3
"""The module graph of src/ has no cycle.

Edges are the `crate::a::b` paths (and `use crate::{...}` groups, and
`super::x` siblings) in each file's non-test code, comments left out, taken
at depths 1 to 3 (`ingress`, `ingress::conn`, `schema::parser::lexer`).
A cycle at any depth is printed with its edges and fails the check.
Usage: modgraph.py [SRC_DIR]
"""
import os
import re
import sys


def modpath(root, path):
    rel = os.path.relpath(path, root)[:-3].split('/')
    if rel[-1] in ('mod', 'lib', 'main'):
        rel = rel[:-1]
    return rel


def edges_at(root, depth):
    edges = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith('.rs'):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding='utf-8') as f:
                src = f.read()
            src = re.sub(r'//[^\n]*', '', src)
            cut = src.find('#[cfg(test)]')
            if cut >= 0:
                src = src[:cut]
            me = modpath(root, path)
            a = tuple(me[:depth]) or ('<root>',)

            def add(parts):
                b = tuple(p for p in parts if p and p[0].islower())[:depth]
                if b and b[:len(a)] != a and a[:len(b)] != b:
                    edges.setdefault(a, set()).add(b)

            for m in re.finditer(r'crate::((?:[a-z_0-9]+::)*[a-zA-Z_0-9]+)', src):
                add(m.group(1).split('::'))
            for m in re.finditer(r'use crate::\{([^}]*)\}', src):
                for item in m.group(1).split(','):
                    add(item.strip().split('::'))
            if len(me) > 1:
                for m in re.finditer(r'\bsuper::([a-z_0-9]+)', src):
                    add(me[:-1] + [m.group(1)])
    return edges


def cycles(edges):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    nodes = set(edges) | {b for bs in edges.values() for b in bs}
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else 'src'
    failed = False
    for depth in (1, 2, 3):
        edges = edges_at(root, depth)
        for component in cycles(edges):
            failed = True
            members = set(component)
            print(f"module cycle at depth {depth}: {', '.join(sorted('::'.join(m) for m in members))}")
            for a in sorted(members):
                for b in sorted(edges.get(a, ())):
                    if b in members:
                        print(f"    {'::'.join(a)} -> {'::'.join(b)}")
    if failed:
        print("help: move what both modules need into a module below them (ARCHITECTURE.md, Invariants)")
        sys.exit(1)
    print("modules: no cycle at depths 1-3")


main()
