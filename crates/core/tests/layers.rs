//! Core's module graph has no import circles, and its top level stays a table of contents (at
//! most 8 `.rs` files beside the module folders). Read from the source: `crate::a::b` paths
//! outside test modules are the edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `storage/db.rs` → `storage::db`; `safety/mod.rs` → `safety`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The `crate::x[::y]` paths in `text` outside `#[cfg(test)]` modules.
fn crate_paths(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = vec![];
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + 7..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_' || *c == ':')
            .collect();
        let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).take(2).collect();
        out.push(segs.join("::"));
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    sources(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let me = module_of(&src, f);
        if me == "lib" || me.ends_with("::tests") {
            continue;
        }
        for p in crate_paths(&std::fs::read_to_string(f).unwrap()) {
            let target = if modules.contains(&p) {
                p
            } else {
                p.split("::").next().unwrap_or_default().to_string()
            };
            if modules.contains(&target) && target != me && !me.starts_with(&format!("{target}::"))
            {
                g.entry(me.clone()).or_default().insert(target);
            }
        }
    }
    g
}

fn find_cycle(
    g: &BTreeMap<String, BTreeSet<String>>,
    n: &str,
    stack: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(i) = stack.iter().position(|s| s == n) {
        return Some(stack[i..].to_vec());
    }
    if !done.insert(n.to_string()) {
        return None;
    }
    stack.push(n.to_string());
    for m in g.get(n).into_iter().flatten() {
        if let Some(c) = find_cycle(g, m, stack, done) {
            return Some(c);
        }
    }
    stack.pop();
    None
}

#[test]
fn core_has_no_import_circles() {
    let g = graph();
    assert!(g.contains_key("verbs::reset"), "the graph was read: {g:?}");
    let mut done = BTreeSet::new();
    for n in g.keys() {
        if let Some(c) = find_cycle(&g, n, &mut vec![], &mut done) {
            panic!("import circle: {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_top_level_is_a_table_of_contents() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let top: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(top.len() <= 8, "{top:?}");
}

#[test]
fn a_circle_is_found_when_there_is_one() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("a".into());
    assert!(find_cycle(&g, "a", &mut vec![], &mut BTreeSet::new()).is_some());
}
