//! The shape of the code, checked: imports run one way (routes → service → store → db).
//!
//! This reads `api/src/**/*.rs`, collects every `crate::…`, `super::…` and `self::…` path (and the
//! `use child::…` re-exports of a `mod.rs`), resolves each to the file that defines it, and builds two
//! graphs (an arrow from a folder's `mod.rs` into its own files does not count: that is the folder's
//! front door): one between top-level modules (`billing`, `http`, `db`, …) and one between files
//! (`billing::service`, `billing::store`, …). A cycle in either, or a lower layer of a domain that
//! names a higher one (a `store` that calls a `service`, a `model` that reads a `store`), fails the test
//! with the offending modules and the lines that make the arrows. `docs/ARCHITECTURE.md` has the drawing.
//!
//! Comments, strings and `#[cfg(test)]` modules are read like everything else except that comments
//! and string literals are skipped: a unit test that imports back up is still an import.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// Where an arrow comes from: the first line that makes it.
type Evidence = BTreeMap<(String, String), String>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Semi,
    Star,
    Other,
}

fn lex(source: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |k: usize| chars.get(k).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if at(i) == '\n' {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A char literal ('a', '\n', '\'') or a lifetime ('a).
            if at(i + 1) == '\\' {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // Raw and byte strings: r"…", r#"…"#, b"…", br#"…"#.
            if matches!(word.as_str(), "r" | "br") && (at(i) == '"' || (at(i) == '#' && at(i + 1) != '[')) {
                let mut hashes = 0;
                while at(i) == '#' {
                    hashes += 1;
                    i += 1;
                }
                if at(i) == '"' {
                    i += 1;
                    loop {
                        if i >= chars.len() {
                            break;
                        }
                        if chars[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                            i += 1 + hashes;
                            break;
                        }
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    continue;
                }
                // r#ident: a raw identifier.
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push((Tok::Ident(chars[start..i].iter().collect()), line));
                continue;
            }
            if word == "b" && (at(i) == '"' || at(i) == '\'') {
                continue; // the literal itself is skipped by the next round
            }
            out.push((Tok::Ident(word), line));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else {
            let tok = match c {
                ':' if at(i + 1) == ':' => {
                    i += 1;
                    Tok::PathSep
                }
                '{' => Tok::Open,
                '}' => Tok::Close,
                ',' => Tok::Comma,
                ';' => Tok::Semi,
                '*' => Tok::Star,
                _ => Tok::Other,
            };
            out.push((tok, line));
            i += 1;
        }
    }
    out
}

/// Reads one path tree after `prefix::` (`a::b`, `a::{b, c::{d, self}}`, `a::*`) into full paths.
fn path_tree(toks: &[(Tok, usize)], mut i: usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Open) => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.0) {
                        None => return i,
                        Some(Tok::Close) => return i + 1,
                        Some(Tok::Comma) => i += 1,
                        Some(_) => {
                            i = path_tree(toks, i, prefix.clone(), out);
                            // Skip an `as name` rename up to the next item.
                            while !matches!(toks.get(i).map(|t| &t.0), None | Some(Tok::Comma | Tok::Close)) {
                                i += 1;
                            }
                        }
                    }
                }
            }
            Some(Tok::Ident(segment)) => {
                prefix.push(segment.clone());
                i += 1;
                if toks.get(i).map(|t| &t.0) == Some(&Tok::PathSep) {
                    i += 1;
                    continue;
                }
                out.push(prefix);
                return i;
            }
            Some(Tok::Star) => {
                out.push(prefix);
                return i + 1;
            }
            _ => {
                out.push(prefix);
                return i;
            }
        }
    }
}

/// The module a source file defines: `billing/service.rs` → `billing::service`, `db/mod.rs` → `db`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file under src");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).expect("read api/src").map(|e| e.expect("a dir entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every file module and, for each, the modules its paths point into (resolved to a file module).
struct Crate {
    modules: BTreeSet<Vec<String>>,
    /// (from file module, to file module, "path:line") for every path that crosses files.
    arrows: Vec<(Vec<String>, Vec<String>, String)>,
}

fn read_crate(src: &Path) -> Crate {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    // The binary (`main.rs`) is a separate crate that imports the library as `vigil::`.
    files.retain(|f| f != &src.join("main.rs"));
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let file_module_of = |path: &[String]| -> Option<Vec<String>> {
        (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains(p))
    };
    let mut arrows = Vec::new();
    for file in &files {
        let module = module_of(src, file);
        if module.is_empty() {
            continue; // lib.rs: the module list, not a layer
        }
        let text = std::fs::read_to_string(file).expect("read a source file");
        let toks = lex(&text);
        // Inline modules (`mod tests { … }`) change what `super::` means.
        let mut inline: Vec<(String, usize)> = Vec::new();
        let mut depth = 0;
        let mut i = 0;
        while i < toks.len() {
            let line = toks[i].1;
            let ident = |k: usize| match toks.get(k) {
                Some((Tok::Ident(s), _)) => Some(s.as_str()),
                _ => None,
            };
            let tok = |k: usize| toks.get(k).map(|t| &t.0);
            match &toks[i].0 {
                Tok::Open => depth += 1,
                Tok::Close => {
                    depth -= 1;
                    if inline.last().is_some_and(|(_, d)| *d > depth) {
                        inline.pop();
                    }
                }
                _ => {}
            }
            if ident(i) == Some("mod")
                && tok(i + 2) == Some(&Tok::Open)
                && let Some(name) = ident(i + 1)
            {
                inline.push((name.to_owned(), depth + 1));
            }
            let here: Vec<String> = module.iter().cloned().chain(inline.iter().map(|(n, _)| n.clone())).collect();
            let after_sep = i > 0 && tok(i - 1) == Some(&Tok::PathSep);
            let mut base: Option<(Vec<String>, usize)> = None;
            match ident(i) {
                Some("crate") if !after_sep && tok(i + 1) == Some(&Tok::PathSep) => base = Some((Vec::new(), i + 2)),
                Some("self") if !after_sep && tok(i + 1) == Some(&Tok::PathSep) => base = Some((here.clone(), i + 2)),
                Some("super") if !after_sep && tok(i + 1) == Some(&Tok::PathSep) => {
                    let mut up = here.clone();
                    let mut k = i;
                    while ident(k) == Some("super") && tok(k + 1) == Some(&Tok::PathSep) {
                        up.pop();
                        k += 2;
                    }
                    base = Some((up, k));
                }
                Some("use") => {
                    // `use child::item;` in a module that declares `child`.
                    if let Some(first) = ident(i + 1) {
                        let mut child = here.clone();
                        child.push(first.to_owned());
                        if modules.contains(&child) && tok(i + 2) == Some(&Tok::PathSep) {
                            base = Some((here.clone(), i + 1));
                        }
                    }
                }
                _ => {}
            }
            if let Some((prefix, start)) = base {
                let mut paths = Vec::new();
                let next = path_tree(&toks, start, prefix, &mut paths);
                for mut path in paths {
                    while path.last().is_some_and(|s| s == "self") {
                        path.pop();
                    }
                    if let Some(target) = file_module_of(&path) {
                        // A folder's `mod.rs` re-exporting or calling its own files is the folder's
                        // front door, not a dependency: only arrows out of a module, or up, count.
                        if !target.starts_with(&module) {
                            let shown = format!("{}:{line}", file.strip_prefix(src).expect("under src").display());
                            arrows.push((module.clone(), target, shown));
                        }
                    }
                }
                i = next.max(i + 1);
                // Account for the braces a `use` tree opened and closed.
                continue;
            }
            i += 1;
        }
    }
    Crate { modules, arrows }
}

fn name(module: &[String]) -> String {
    module.join("::")
}

/// Cycles as `a → b → … → a`, one per strongly connected group of more than one node.
fn cycles(nodes: &BTreeSet<String>, edges: &BTreeMap<String, BTreeSet<String>>, evidence: &Evidence) -> Vec<String> {
    // The groups: nodes that reach each other.
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([from.to_owned()]);
        while let Some(n) = queue.pop_front() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    queue.push_back(m.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<String, BTreeSet<String>> = nodes.iter().map(|n| (n.clone(), reach(n))).collect();
    let mut reported = BTreeSet::new();
    let mut out = Vec::new();
    for node in nodes {
        if reported.contains(node) || !reaches[node].contains(node) {
            continue;
        }
        let group: BTreeSet<String> = reaches[node].iter().filter(|m| reaches[*m].contains(node)).cloned().collect();
        reported.extend(group.iter().cloned());
        // The shortest way round from `node` back to itself, inside the group.
        let mut parent: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = VecDeque::from([node.clone()]);
        let mut last = None;
        'search: while let Some(n) = queue.pop_front() {
            for m in edges.get(&n).into_iter().flatten().filter(|m| group.contains(*m)) {
                if m == node {
                    last = Some(n.clone());
                    break 'search;
                }
                if !parent.contains_key(m) {
                    parent.insert(m.clone(), n.clone());
                    queue.push_back(m.clone());
                }
            }
        }
        let mut back = Vec::new();
        let mut at = last.expect("a node in a cycle reaches itself");
        while &at != node {
            back.push(at.clone());
            at = parent[&at].clone();
        }
        back.reverse();
        let way: Vec<String> = std::iter::once(node.clone()).chain(back).chain([node.clone()]).collect();
        let because: Vec<String> = way
            .windows(2)
            .map(|w| format!("  {} → {} ({})", w[0], w[1], evidence[&(w[0].clone(), w[1].clone())]))
            .collect();
        let others: Vec<&String> = group.iter().filter(|m| !way.contains(m)).collect();
        let also = if others.is_empty() { String::new() } else { format!("\n  (the same knot also holds {others:?})") };
        out.push(format!("{}\n{}{also}", way.join(" → "), because.join("\n")));
    }
    out
}

fn graph(
    arrows: impl Iterator<Item = (String, String, String)>,
) -> (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>, Evidence) {
    let mut nodes = BTreeSet::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut evidence = Evidence::new();
    for (from, to, at) in arrows {
        if from == to {
            continue;
        }
        nodes.insert(from.clone());
        nodes.insert(to.clone());
        edges.entry(from.clone()).or_default().insert(to.clone());
        evidence.entry((from, to)).or_insert(at);
    }
    (nodes, edges, evidence)
}

/// The layer of a file inside a domain folder, highest first; files with other names are not layered.
fn layer(module: &[String]) -> Option<u8> {
    match module.last()?.as_str() {
        "routes" => Some(3),
        "service" => Some(2),
        "store" => Some(1),
        "model" => Some(0),
        _ => None,
    }
}

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn problems(src: &Path) -> Vec<String> {
    let krate = read_crate(src);
    assert!(krate.modules.len() > 20, "read the crate's modules from {}", src.display());
    let mut found = Vec::new();

    let top = krate.arrows.iter().map(|(f, t, at)| (f[0].clone(), t[0].clone(), at.clone()));
    let (nodes, edges, evidence) = graph(top);
    for cycle in cycles(&nodes, &edges, &evidence) {
        found.push(format!("import cycle between top-level modules: {cycle}"));
    }

    let files = krate.arrows.iter().map(|(f, t, at)| (name(f), name(t), at.clone()));
    let (nodes, edges, evidence) = graph(files);
    for cycle in cycles(&nodes, &edges, &evidence) {
        found.push(format!("import cycle between files: {cycle}"));
    }

    let mut seen = BTreeSet::new();
    for (from, to, at) in &krate.arrows {
        let same_domain = from.len() == 2 && to.len() == 2 && from[0] == to[0];
        if let (true, Some(a), Some(b)) = (same_domain, layer(from), layer(to))
            && a < b
            && seen.insert((from.clone(), to.clone()))
        {
            found.push(format!(
                "layering: {} imports {} ({at}); a domain runs routes → service → store → model",
                name(from),
                name(to)
            ));
        }
    }
    found
}

#[test]
fn imports_run_one_way_with_no_cycle_between_modules_or_files() {
    let found = problems(&source_dir());
    assert!(found.is_empty(), "the module graph must run one way (docs/ARCHITECTURE.md):\n\n{}\n", found.join("\n\n"));
}

#[test]
fn the_checker_sees_a_cycle_through_a_use_tree_and_a_super_path() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let src = dir.path();
    let write = |path: &str, text: &str| {
        let file = src.join(path);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
        std::fs::write(file, text).expect("write");
    };
    write("lib.rs", "pub mod a; pub mod b;");
    for n in 0..20 {
        write(&format!("filler{n}.rs"), "");
    }
    write("a/mod.rs", "pub mod routes; pub mod store;");
    write("a/routes.rs", "use super::store::find;");
    // A string and a comment that mention crate::b are not imports.
    write("a/store.rs", "// crate::b\nconst S: &str = \"crate::b::x\";\nuse crate::{b::{self, model::Thing}};");
    write("b/mod.rs", "pub mod model;");
    write("b/model.rs", "pub fn f() { crate::a::routes::handler(); }");
    let found = problems(src);
    let text = found.join("\n");
    assert!(text.contains("top-level modules: a → b → a"), "{text}");
    assert!(text.contains("  a → b (a/store.rs:3)"), "{text}");
    assert!(text.contains("between files: a::routes → a::store → b::model → a::routes"), "{text}");
    assert!(!text.contains("layering"), "{text}");
    write("a/store.rs", "use super::routes::handler;");
    let found = problems(src).join("\n");
    assert!(found.contains("layering: a::store imports a::routes (a/store.rs:1)"), "{found}");
}
