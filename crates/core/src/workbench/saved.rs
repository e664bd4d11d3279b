//! `saved`: named queries per env, kept in the data dir (`<data>/queries/<env>.json`), never in
//! the database. The file is untrusted input (another tool, a hand edit, a torn copy may have
//! written it): at most [`MAX_FILE_BYTES`], strict JSON with known fields only, every name and
//! SQL text checked again; anything else is [`Error::SavedQueries`] and the file is left alone.
//! Every change is written whole: temp file → fsync → rename over the old one → directory fsync.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::storage::{fs, text};
use crate::workbench::guard::MAX_SQL_BYTES;
use crate::workspace::config::Workspace;

/// Largest saved-queries file read or written.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Most queries kept per env.
pub const MAX_QUERIES: usize = 200;
/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// The directory under the data dir.
pub const DIR: &str = crate::workspace::config::SAVED_QUERIES_DIR;
const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SavedQuery {
    pub name: String,
    pub sql: String,
    /// When it was last saved (RFC 3339, UTC).
    pub saved_at: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    queries: Vec<SavedQuery>,
}

/// Why a name is not a valid query name (`None`: it is): 1–64 characters, letters, digits,
/// spaces and `_ - . , ( ) # : +`, not starting or ending with a space.
pub fn name_problem(name: &str) -> Option<&'static str> {
    let n = name.chars().count();
    if n == 0 {
        return Some("it is empty");
    }
    if n > MAX_NAME_CHARS {
        return Some("it is longer than 64 characters");
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return Some("it starts or ends with a space");
    }
    let allowed = |c: char| c.is_alphanumeric() || " _-.,()#:+".contains(c);
    if !name.chars().all(allowed) {
        return Some("use letters, digits, spaces and _ - . , ( ) # : + only");
    }
    None
}

/// [`name_problem`] as a typed error naming the (escaped, shortened) name.
pub fn check_name(name: &str) -> Result<()> {
    match name_problem(name) {
        None => Ok(()),
        Some(why) => Err(Error::InvalidInput(format!(
            "invalid query name \"{}\": {why}",
            text::echo(name)
        ))),
    }
}

fn check_sql(sql: &str) -> Result<()> {
    if sql.trim().is_empty() {
        return Err(Error::InvalidInput("there is no SQL to save".into()));
    }
    if sql.len() > MAX_SQL_BYTES as usize {
        return Err(Error::InvalidInput(format!(
            "the SQL is {} bytes; a saved query holds at most {MAX_SQL_BYTES}",
            sql.len()
        )));
    }
    Ok(())
}

/// Where `env`'s saved queries are kept.
pub fn path(ws: &Workspace, env: &str) -> Result<PathBuf> {
    let target = ws.env(env)?;
    Ok(ws.data_dir.join(DIR).join(format!("{}.json", target.name)))
}

/// `env`'s saved queries, by name (none when the file does not exist yet).
pub fn list(ws: &Workspace, env: &str) -> Result<Vec<SavedQuery>> {
    load(&path(ws, env)?)
}

/// Saves `sql` as `name`; an existing query of that name is replaced only when `replace`.
pub fn save(
    ws: &Workspace,
    env: &str,
    name: &str,
    sql: &str,
    replace: bool,
) -> Result<Vec<SavedQuery>> {
    check_name(name)?;
    check_sql(sql)?;
    edit(ws, env, |qs| {
        let q = SavedQuery {
            name: name.into(),
            sql: sql.into(),
            saved_at: crate::now_rfc3339(),
        };
        match find(qs, name) {
            Some(i) if replace => qs[i] = q,
            Some(_) => {
                return Err(Error::Refused(format!(
                    "a query named \"{name}\" is already saved; nothing was saved. Choose another name, or save over it"
                )))
            }
            None if qs.len() >= MAX_QUERIES => {
                return Err(Error::Refused(format!(
                    "{env} has {MAX_QUERIES} saved queries, the most kept; nothing was saved. Delete one first"
                )))
            }
            None => qs.push(q),
        }
        Ok(())
    })
}

/// Renames the query `from` to `to` (refused if `to` is taken).
pub fn rename(ws: &Workspace, env: &str, from: &str, to: &str) -> Result<Vec<SavedQuery>> {
    check_name(to)?;
    edit(ws, env, |qs| {
        let i = require(qs, from)?;
        if find(qs, to).is_some_and(|j| j != i) {
            return Err(Error::Refused(format!(
                "a query named \"{to}\" is already saved; nothing was renamed. Choose another name"
            )));
        }
        qs[i].name = to.into();
        Ok(())
    })
}

/// Deletes the query `name`.
pub fn delete(ws: &Workspace, env: &str, name: &str) -> Result<Vec<SavedQuery>> {
    edit(ws, env, |qs| {
        let i = require(qs, name)?;
        qs.remove(i);
        Ok(())
    })
}

/// Names are unique without regard to case ("Failed jobs" and "failed jobs" are one name).
fn find(qs: &[SavedQuery], name: &str) -> Option<usize> {
    qs.iter()
        .position(|q| q.name.to_lowercase() == name.to_lowercase())
}

fn require(qs: &[SavedQuery], name: &str) -> Result<usize> {
    find(qs, name).ok_or_else(|| {
        Error::InvalidInput(format!(
            "no saved query is named \"{}\"; it may have been renamed or deleted in another window",
            text::echo(name)
        ))
    })
}

/// Loads, changes and writes back `env`'s list (sorted by name).
fn edit(
    ws: &Workspace,
    env: &str,
    change: impl FnOnce(&mut Vec<SavedQuery>) -> Result<()>,
) -> Result<Vec<SavedQuery>> {
    let p = path(ws, env)?;
    let dir = p.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
    require_real_dir(dir)?;
    // Two saves at once (two windows, the desktop's parallel commands) each wrote the list it
    // had read: one of them was lost though both said "saved".
    let _edit = lock_list(dir, ws.busy_timeout())?;
    let mut qs = load(&p)?;
    change(&mut qs)?;
    sort(&mut qs);
    let text = serde_json::to_vec_pretty(&File {
        version: VERSION,
        queries: qs.clone(),
    })
    .map_err(|e| Error::Internal(format!("saved queries: {e}")))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::Refused(format!(
            "the saved queries of {env} would exceed {} KiB; nothing was saved. Delete or shorten some first",
            MAX_FILE_BYTES / 1024
        )));
    }
    fs::write_replace(&p, &text)?;
    tracing::info!(path = %p.display(), queries = qs.len(), "saved queries written");
    Ok(qs)
}

/// An exclusive lock on the queries dir's `.lock` file, held while a list is read, changed and
/// written back; waits up to `timeout` for another save.
fn lock_list(dir: &Path, timeout: std::time::Duration) -> Result<std::fs::File> {
    let path = dir.join(".lock");
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    let file = crate::storage::os::private_no_follow(&mut opts, &path)
        .and_then(|()| opts.open(&path))
        .map_err(Error::io("opening", &path))?;
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < timeout => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Refused(format!(
                    "another save of queries held {} for {} ms; nothing was saved. Try again",
                    path.display(),
                    start.elapsed().as_millis()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("locking", &path)(e)),
        }
    }
}

fn sort(qs: &mut [SavedQuery]) {
    qs.sort_by_key(|q| q.name.to_lowercase());
}

/// The queries dir is never reached through a symlink (nothing is written elsewhere).
fn require_real_dir(dir: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(dir).map_err(Error::io("reading", dir))?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(Error::Refused(format!(
            "{} is not a plain directory (a symlink or a file); nothing was saved. Remove it and try again",
            dir.display()
        )));
    }
    Ok(())
}

/// Reads and checks a saved-queries file; a missing file is an empty list.
pub fn load(p: &Path) -> Result<Vec<SavedQuery>> {
    let bad = |detail: String| Error::SavedQueries {
        path: p.to_path_buf(),
        detail,
    };
    let meta = match std::fs::symlink_metadata(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io("reading", p)(e)),
        Ok(m) => m,
    };
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    let mut bytes = vec![];
    std::fs::File::open(p)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(Error::io("reading", p))?;
    parse(&bytes).map_err(bad)
}

/// The queries of a file's bytes, or what is wrong with them.
pub fn parse(bytes: &[u8]) -> std::result::Result<Vec<SavedQuery>, String> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {} KiB", MAX_FILE_BYTES / 1024));
    }
    let file: File =
        serde_json::from_slice(bytes).map_err(|e| format!("not a saved-queries file: {e}"))?;
    if file.version != VERSION {
        return Err(format!(
            "version {} (this pipeline-db reads version {VERSION})",
            file.version
        ));
    }
    if file.queries.len() > MAX_QUERIES {
        return Err(format!(
            "{} queries (at most {MAX_QUERIES})",
            file.queries.len()
        ));
    }
    for (i, q) in file.queries.iter().enumerate() {
        let at = format!("query {}", i + 1);
        if let Some(why) = name_problem(&q.name) {
            return Err(format!(
                "{at}: invalid name \"{}\": {why}",
                text::echo(&q.name)
            ));
        }
        check_sql(&q.sql).map_err(|e| format!("{at}: {e}"))?;
        if find(&file.queries[..i], &q.name).is_some() {
            return Err(format!(
                "{at}: the name \"{}\" appears twice",
                text::echo(&q.name)
            ));
        }
    }
    let mut qs = file.queries;
    sort(&mut qs);
    Ok(qs)
}

#[cfg(test)]
mod tests;
