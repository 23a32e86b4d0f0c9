#!/usr/bin/env python3
"""The largest Swift files and functions under Sources/ (lines), for reviews of code structure.

A function is a `func`, `init` or `deinit` declaration through its matching closing brace, comments
and strings included; nested functions count inside their parent too. Usage:
    scripts/code-size.py [--top N] [ROOT]
"""
import os, re, sys

DECL = re.compile(r'^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|fileprivate|internal|package|open|static|class|'
                  r'final|override|mutating|nonmutating|convenience|required|nonisolated|@inlinable|@usableFromInline)\s+)*'
                  r'(func\s+[^\s(<]+|init[?!]?\s*[(<]|deinit\b)')

def functions(path):
    lines = open(path, encoding='utf-8').read().split('\n')
    found = []
    for i, line in enumerate(lines):
        m = DECL.match(line)
        if not m:
            continue
        depth, opened = 0, False
        for j in range(i, len(lines)):
            text = re.sub(r'"(?:\\.|[^"\\])*"', '""', lines[j].split('//')[0])
            depth += text.count('{') - text.count('}')
            opened = opened or '{' in text
            if opened and depth <= 0:
                name = m.group(1).replace('func ', '').rstrip('(<').strip()
                found.append((j - i + 1, f'{path}:{i + 1} {name}'))
                break
            if not opened and j > i + 12:
                break  # a protocol requirement: no body
    return found

def main():
    args = sys.argv[1:]
    top = 5
    if args[:1] == ['--top']:
        top, args = int(args[1]), args[2:]
    root = args[0] if args else 'Sources'
    files, funcs = [], []
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith('.swift'):
                path = os.path.join(folder, name)
                files.append((sum(1 for _ in open(path, encoding='utf-8')), path))
                funcs += functions(path)
    print('largest files:')
    for n, p in sorted(files, reverse=True)[:top]:
        print(f'  {n:5d}  {p}')
    print('largest functions:')
    for n, p in sorted(funcs, reverse=True)[:top]:
        print(f'  {n:5d}  {p}')

main()
