//! No import cycles between modules, in this crate and in the macro crate.
//!
//! The rule: at every level of the module tree, the child modules of one parent form a graph
//! (an edge `a -> b` when any file of `a`'s subtree names an item that `b`'s subtree defines,
//! through a `use` or an inline `crate::`/`super::`/`self::` path, re-exports followed to where
//! the item is defined), and that graph has no cycle. A module using its own parent or its own
//! children is containment, not an import between modules, and is not an edge. Test modules
//! (`#[cfg(test)] mod ...`) are left out: they may import whatever they test.
//!
//! The test reads the source files; it needs no compiler support, and it names the cycle it
//! finds (with one file and line per edge) when it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module path from the crate root (`[]` is the root).
type ModPath = Vec<String>;

struct Module {
    file: PathBuf,
    /// The file's code with comments, string literals and test modules removed.
    code: String,
    /// The line of each byte of `code`, for messages.
    lines: Vec<usize>,
}

struct Crate {
    modules: BTreeMap<ModPath, Module>,
}

/// Removes comments, the contents of string and char literals, and `#[cfg(test)]` items,
/// keeping byte positions' line numbers in `lines`.
fn strip(src: &str) -> (String, Vec<usize>) {
    let b = src.as_bytes();
    let (mut out, mut lines) = (String::new(), Vec::new());
    let mut line = 1;
    let mut i = 0;
    let push = |c: char, line: usize, out: &mut String, lines: &mut Vec<usize>| {
        out.push(c);
        lines.push(line);
    };
    while i < b.len() {
        let c = b[i] as char;
        if c == '\n' {
            line += 1;
        }
        if src[i..].starts_with("//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if src[i..].starts_with("/*") {
            let mut depth = 0;
            while i < b.len() {
                if src[i..].starts_with("/*") {
                    depth += 1;
                    i += 2;
                } else if src[i..].starts_with("*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            continue;
        }
        if c == '"' {
            // A string literal (raw strings in this code base hold no `"` themselves).
            push('"', line, &mut out, &mut lines);
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if i < b.len() && b[i] == b'\n' {
                    line += 1;
                }
                i += 1;
            }
            push('"', line, &mut out, &mut lines);
            i += 1;
            continue;
        }
        if c == '\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal ('x' or '\n'); lifetimes pass through.
            let end = src[i + 1..].find('\'').map_or(b.len(), |e| i + 1 + e + 1);
            push(' ', line, &mut out, &mut lines);
            i = end;
            continue;
        }
        if src[i..].starts_with("#[cfg(test)]") {
            // Skip the attribute and the item after it: up to its `;`, or its braced body.
            i += "#[cfg(test)]".len();
            let mut depth = 0;
            while i < b.len() {
                match b[i] {
                    b'\n' => line += 1,
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    b';' if depth == 0 => {
                        i += 1;
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
            continue;
        }
        push(c, line, &mut out, &mut lines);
        i += c.len_utf8().max(1);
        while i < b.len() && !src.is_char_boundary(i) {
            i += 1;
        }
    }
    (out, lines)
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The modules declared in `code` (`mod x;`), outside test items (already stripped).
fn declared_modules(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("mod ") {
        if i > 0 && is_ident(code[..i].chars().next_back().unwrap()) {
            continue;
        }
        let rest = &code[i + 4..];
        let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
        if !name.is_empty() && rest[name.len()..].trim_start().starts_with(';') {
            out.push(name);
        }
    }
    out
}

fn load(src: &Path) -> Crate {
    let mut modules = BTreeMap::new();
    let mut todo: Vec<(ModPath, PathBuf)> = vec![(Vec::new(), src.join("lib.rs"))];
    while let Some((path, file)) = todo.pop() {
        let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let (code, lines) = strip(&text);
        let dir = if path.is_empty() || file.ends_with("mod.rs") {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        for child in declared_modules(&code) {
            let mut p = path.clone();
            p.push(child.clone());
            let flat = dir.join(format!("{child}.rs"));
            let nested = dir.join(&child).join("mod.rs");
            let f = if flat.exists() { flat } else { nested };
            todo.push((p, f));
        }
        modules.insert(path, Module { file, code, lines });
    }
    Crate { modules }
}

/// Expands the use tree starting at `tree` (after `use `) into full paths (segments); an item
/// renamed with `as` keeps its original path.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn go(prefix: &[String], s: &str, out: &mut Vec<Vec<String>>) {
        let s = s.trim();
        if let Some(open) = s.find('{') {
            let head: Vec<String> = s[..open]
                .split("::")
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect();
            let mut p = prefix.to_vec();
            p.extend(head);
            let inner = &s[open + 1..s.rfind('}').unwrap()];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        go(&p, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            go(&p, &inner[start..], out);
        } else if !s.is_empty() {
            let s = s.split(" as ").next().unwrap();
            let mut p = prefix.to_vec();
            p.extend(s.split("::").map(str::trim).map(String::from));
            out.push(p);
        }
    }
    let mut out = Vec::new();
    go(&[], tree, &mut out);
    out
}

/// The `use` statements of `code`: (byte offset, visibility is `pub`, expanded paths).
fn uses(code: &str) -> Vec<(usize, bool, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("use ") {
        if i > 0 && is_ident(code[..i].chars().next_back().unwrap()) {
            continue;
        }
        let before = code[..i].trim_end();
        let public = before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
        let Some(end) = code[i..].find(';') else {
            continue;
        };
        out.push((i, public, expand_use(&code[i + 4..i + end])));
    }
    out
}

/// Does `code` define an item called `name`?
fn defines(code: &str, name: &str) -> bool {
    const KINDS: [&str; 9] = [
        "fn ",
        "struct ",
        "enum ",
        "trait ",
        "type ",
        "const ",
        "static ",
        "union ",
        "macro_rules! ",
    ];
    KINDS.iter().any(|k| {
        code.match_indices(&format!("{k}{name}")).any(|(i, _)| {
            let after = code[i + k.len() + name.len()..].chars().next();
            after.is_none_or(|c| !is_ident(c))
        })
    })
}

impl Crate {
    /// Where the item `path` (relative to module `from`) is defined: the module whose file
    /// holds it, following re-exports.
    fn resolve(&self, from: &ModPath, path: &[String], depth: usize) -> Option<ModPath> {
        if depth > 16 {
            return None;
        }
        let first = path.first()?;
        let mut m: ModPath = match first.as_str() {
            "crate" => Vec::new(),
            "self" => from.clone(),
            "super" => from[..from.len().checked_sub(1)?].to_vec(),
            // A path relative to `from` (`use child::Item`), or another crate's.
            _ => {
                let mut child = from.clone();
                child.push(first.clone());
                if !self.modules.contains_key(&child) {
                    return None;
                }
                from.clone()
            }
        };
        let mut rest = if matches!(first.as_str(), "crate" | "self" | "super") {
            &path[1..]
        } else {
            path
        };
        while let Some(seg) = rest.first() {
            match seg.as_str() {
                "super" => {
                    m.pop();
                }
                "self" | "*" => {}
                _ => {
                    let mut child = m.clone();
                    child.push(seg.clone());
                    if self.modules.contains_key(&child) {
                        m = child;
                    } else {
                        let module = &self.modules[&m];
                        if defines(&module.code, seg) {
                            return Some(m);
                        }
                        // A re-export: follow it to the definition.
                        for (_, public, paths) in uses(&module.code) {
                            if !public {
                                continue;
                            }
                            for p in paths {
                                if p.last() == Some(seg) {
                                    return self.resolve(&m, &p, depth + 1);
                                }
                            }
                        }
                        return Some(m);
                    }
                }
            }
            rest = &rest[1..];
        }
        Some(m)
    }

    /// Every module `module` refers to, with the line of the first reference.
    fn references(&self, from: &ModPath) -> BTreeMap<ModPath, usize> {
        let module = &self.modules[from];
        let code = &module.code;
        let mut out = BTreeMap::new();
        let mut add = |at: usize, path: &[String]| {
            if let Some(to) = self.resolve(from, path, 0) {
                out.entry(to).or_insert(module.lines[at]);
            }
        };
        for (at, _, paths) in uses(code) {
            for p in paths {
                add(at, &p);
            }
        }
        // Inline paths outside `use` statements.
        for root in ["crate::", "super::", "self::"] {
            for (i, _) in code.match_indices(root) {
                if i > 0 && is_ident(code[..i].chars().next_back().unwrap()) {
                    continue;
                }
                let text: String = code[i..]
                    .chars()
                    .take_while(|&c| is_ident(c) || c == ':')
                    .collect();
                let segs: Vec<String> = text
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                add(i, &segs);
            }
        }
        out
    }
}

/// For every parent, the graph among its children; returns each cycle found, described.
fn cycles(krate: &Crate) -> Vec<String> {
    // edges[parent][(a, b)] = (file, line) of one reference from a's subtree into b's.
    let mut edges: BTreeMap<ModPath, BTreeMap<(String, String), String>> = BTreeMap::new();
    for (from, module) in &krate.modules {
        for (to, line) in krate.references(from) {
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue; // containment: a module and its ancestor or descendant
            }
            let parent = from[..common].to_vec();
            let key = (from[common].clone(), to[common].clone());
            edges
                .entry(parent)
                .or_default()
                .entry(key)
                .or_insert_with(|| format!("{}:{line}", module.file.display()));
        }
    }
    let mut found = Vec::new();
    for (parent, graph) in &edges {
        let nodes: BTreeSet<&String> = graph.keys().flat_map(|(a, b)| [a, b]).collect();
        for &start in &nodes {
            // Depth-first search for a path back to `start`, through nodes after it only, so
            // each cycle is reported once (from its smallest node).
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((node, path)) = stack.pop() {
                for ((a, b), at) in graph {
                    if *a != node {
                        continue;
                    }
                    if b == start {
                        let mut desc = format!("in `{}`: ", parent.join("::"));
                        let mut full = path.clone();
                        full.push(start.clone());
                        desc += &full.join(" -> ");
                        for w in full.windows(2) {
                            desc += &format!(
                                "\n    {} -> {}: {}",
                                w[0],
                                w[1],
                                graph[&(w[0].clone(), w[1].clone())]
                            );
                        }
                        let _ = at;
                        found.push(desc);
                    } else if b > start && seen.insert(b.clone()) {
                        let mut p = path.clone();
                        p.push(b.clone());
                        stack.push((b.clone(), p));
                    }
                }
            }
        }
    }
    found
}

fn check(src: &Path) {
    let krate = load(src);
    assert!(
        krate.modules.len() > 3,
        "found no modules under {}",
        src.display()
    );
    let found = cycles(&krate);
    assert!(
        found.is_empty(),
        "import cycles under {}:\n{}",
        src.display(),
        found.join("\n")
    );
}

#[test]
fn the_runtime_has_no_import_cycles() {
    check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
}

#[test]
fn the_macro_crate_has_no_import_cycles() {
    check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../macros/src"));
}

#[test]
fn the_checker_finds_a_planted_cycle() {
    let dir = std::env::temp_dir().join(format!("scoro-cycle-check-{}", std::process::id()));
    fs::create_dir_all(dir.join("b")).unwrap();
    fs::write(dir.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    fs::write(
        dir.join("a.rs"),
        "use crate::b::Thing;\npub(crate) struct Other;\n",
    )
    .unwrap();
    fs::write(
        dir.join("b/mod.rs"),
        "mod inner;\npub(crate) use inner::Thing;\n",
    )
    .unwrap();
    // `b` re-exports `Thing` from its child, which names `c`, which names `a`.
    fs::write(
        dir.join("b/inner.rs"),
        "pub(crate) struct Thing(crate::c::C);\n",
    )
    .unwrap();
    fs::write(dir.join("c.rs"), "// crate::b::Thing in a comment is not a reference\npub(crate) struct C(crate::a::Other);\n").unwrap();
    let found = cycles(&load(&dir));
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("in ``: a -> b -> c -> a"),
        "{}",
        found[0]
    );
}
