//! The audit log: one fsynced JSON line per action in `<data>/audit.jsonl`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditEntry {
    pub time: String,
    pub user: String,
    pub pid: u32,
    pub env: String,
    pub file: PathBuf,
    pub verb: String,
    /// One line saying what the plan was ("drop 3 tables (520 rows), apply V1, seed 500 jobs").
    pub summary: String,
    pub backup: Option<PathBuf>,
    /// `ok`, `failed`, `refused` or `cancelled`.
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// What the database held right after a successful action that took a pre-action backup
    /// (`undo` compares it with the present to say what undoing would lose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<crate::storage::fingerprint::Fingerprint>,
}

pub fn os_user() -> String {
    crate::storage::os::os_user()
}

/// Appends one entry and fsyncs it (a single `write` of the whole line, O_APPEND).
pub fn append(log: &Path, entry: &AuditEntry) -> Result<()> {
    let mut line = serde_json::to_vec(entry)
        .map_err(|e| Error::Internal(format!("serializing an audit line: {e}")))?;
    line.push(b'\n');
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
    }
    crate::storage::fs::append_line(log, &line)
}

/// The free space an action needs on the audit log's disk before it starts (its line is a few
/// KiB at most; the rest is margin for what else writes there meanwhile).
const AUDIT_ROOM: u64 = 256 << 10;
const NO_ROOM_FOR_THE_LINE: &str = "room for the audit line every action writes";

/// The most of the audit log read (about a million entries): of a bigger log only its newest
/// lines, this many bytes of them, are read (it only grows; nothing is read into memory unbounded).
const AUDIT_CAP: u64 = 256 << 20;

/// Reads the log, newest last, optionally only one env's entries. Unparseable lines are skipped
/// (a line cut by a crash) and counted.
///
/// The log is a file anyone can edit: it is read as bytes, and a line that is not UTF-8 JSON of
/// an entry is skipped and counted, never an error; a log that is no regular file or a link is
/// refused; of one over [`AUDIT_CAP`] only the newest entries are read.
pub fn read(log: &Path, env: Option<&str>) -> Result<(Vec<AuditEntry>, usize)> {
    read_capped(log, env, AUDIT_CAP)
}

fn read_capped(log: &Path, env: Option<&str>, cap: u64) -> Result<(Vec<AuditEntry>, usize)> {
    let Some((bytes, skipped)) = crate::storage::fs::read_untrusted_tail(log, cap)? else {
        return Ok((vec![], 0));
    };
    if skipped {
        tracing::warn!(
            "{} is larger than {}: only its newest entries are read here (undo, and retention keeping undo's target, read the whole log)",
            log.display(),
            crate::storage::text::bytes(cap)
        );
    }
    let mut bad = 0;
    let mut out = vec![];
    let lines = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    for line in lines {
        match serde_json::from_slice::<AuditEntry>(line).map(printable_entry) {
            Ok(e) if env.is_none_or(|x| x == e.env) => out.push(e),
            Ok(_) => {}
            Err(_) => bad += 1,
        }
    }
    if bad > 0 {
        tracing::warn!("{}: {bad} unreadable lines skipped", log.display());
    }
    Ok((out, bad))
}

/// An entry with every text field made printable (anyone can edit the log).
fn printable_entry(mut e: AuditEntry) -> AuditEntry {
    use crate::storage::text::printable;
    for f in [
        &mut e.time,
        &mut e.user,
        &mut e.env,
        &mut e.verb,
        &mut e.summary,
        &mut e.outcome,
    ] {
        *f = printable(f);
    }
    e.error = e.error.as_deref().map(printable);
    e
}

/// The last successful action on `env` that took a pre-action backup (manual backups excluded):
/// what `undo` undoes, and whose backup retention and prune never delete.
///
/// Its backup is named by file in the env's backup dir now, where every pre-action backup is
/// taken: the log holds the absolute path of the time, which a moved data dir no longer has (and
/// a copied one still points into the original).
///
/// The whole log is read, however big (line by line: see [`for_each_entry`]): an action older than
/// the newest lines is still undo's target, and retention must see it.
pub fn last_undoable(ws: &crate::Workspace, env: &str) -> Result<Option<AuditEntry>> {
    Ok(undoable_in(ws, Some(env))?.remove(env))
}

/// [`last_undoable`] of every env, from one read of the log (a command about every env — a list,
/// a retention plan — read a big log once per env).
pub fn last_undoable_of_each(
    ws: &crate::Workspace,
) -> Result<std::collections::BTreeMap<String, AuditEntry>> {
    undoable_in(ws, None)
}

fn undoable_in(
    ws: &crate::Workspace,
    env: Option<&str>,
) -> Result<std::collections::BTreeMap<String, AuditEntry>> {
    let committed = |o: &str| o == "ok" || o == COMMITTED_CHECK_FAILED;
    let mut found = std::collections::BTreeMap::new();
    for_each_entry(&ws.audit_path(), env, |e| {
        let undoable = committed(&e.outcome)
            && e.backup.is_some()
            && e.verb != crate::verb::Verb::Backup.as_str();
        if undoable {
            found.insert(e.env.clone(), e);
        }
    })?;
    for (env, e) in found.iter_mut() {
        let dir = ws.env(env).ok().map(|t| t.backup_dir);
        let name = e.backup.as_deref().and_then(Path::file_name);
        if let (Some(dir), Some(name)) = (&dir, name) {
            e.backup = Some(dir.join(name));
        }
    }
    Ok(found)
}

/// The outcome of an action that was committed but failed its checks after: it changed the
/// database (undo's target), unlike a `failed` one.
pub const COMMITTED_CHECK_FAILED: &str = "committed, check failed";

/// Whether `env` was pointed at another file after `action` (an `env path`, `env remove` or
/// `env add` of that name that succeeded later in the log): its backup then never held the file
/// the env names now. Moving the whole data dir is no such change.
pub fn repointed_after(ws: &crate::Workspace, env: &str, action: &AuditEntry) -> Result<bool> {
    use crate::verb::Verb;
    let same =
        |e: &AuditEntry| e.time == action.time && e.pid == action.pid && e.verb == action.verb;
    let repoint = [Verb::EnvPath, Verb::EnvRemove, Verb::EnvAdd].map(|v| v.as_str());
    // After the action's last line: a repoint that succeeded.
    let (mut seen, mut repointed) = (false, false);
    for_each_entry(&ws.audit_path(), Some(env), |e| {
        if same(&e) {
            (seen, repointed) = (true, false);
        } else if seen && e.outcome == "ok" && repoint.contains(&e.verb.as_str()) {
            repointed = true;
        }
    })?;
    Ok(repointed)
}

/// The longest line [`for_each_entry`] reads (an entry is a few hundred bytes); a longer one is
/// passed over unread, as any line that is no entry.
const LINE_CAP: u64 = 1 << 20;

/// Hands every readable entry of `env` (of every env: `None`) in the log to `f`, oldest first: the
/// whole file, however big, one line in memory at a time. The log is opened as [`read`] opens it
/// (no link, no FIFO).
fn for_each_entry(log: &Path, env: Option<&str>, mut f: impl FnMut(AuditEntry)) -> Result<()> {
    use std::io::{BufRead, Read};
    let Some((file, _)) = crate::storage::fs::open_untrusted(log, false)? else {
        return Ok(());
    };
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut r)
            .take(LINE_CAP)
            .read_until(b'\n', &mut line)
            .map_err(Error::io("reading", log))?;
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') && n as u64 == LINE_CAP {
            skip_rest_of_line(&mut r).map_err(Error::io("reading", log))?;
            continue;
        }
        if let Ok(e) = serde_json::from_slice::<AuditEntry>(&line) {
            if env.is_none_or(|env| e.env == env) {
                f(printable_entry(e));
            }
        }
    }
}

fn skip_rest_of_line(r: &mut impl std::io::BufRead) -> std::io::Result<()> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

/// Records the outcome of a verb; a failure to log is reported in the logs, never hides the result.
pub(crate) struct Recorder {
    pub log: PathBuf,
    pub env: String,
    pub file: PathBuf,
    pub verb: crate::verb::Verb,
    pub started: std::time::Instant,
    /// A fingerprint taken by the verb itself while it still held the lock (else taken at finish).
    after: std::sync::Mutex<Option<crate::storage::fingerprint::Fingerprint>>,
    /// The env's lock, kept until the line is written: nobody acts on the env (a retention pass
    /// reading undo's target, say) between the action and its line.
    held: std::sync::Mutex<Vec<crate::safety::lock::EnvLock>>,
}

/// Runs `body` as one audited action: exactly one line is appended whatever its outcome, with the
/// summary and backup `describe` reads off the result. The only place a [`Recorder`] is made.
pub(crate) fn recorded<T>(
    ws: &crate::Workspace,
    env: &str,
    file: &Path,
    verb: crate::verb::Verb,
    body: impl FnOnce(&Recorder) -> Result<T>,
    describe: impl FnOnce(&Result<T>) -> (String, Option<PathBuf>),
) -> Result<T> {
    let rec = Recorder::new(ws.audit_path(), env, file, verb);
    let result = body(&rec);
    let (summary, backup) = describe(&result);
    let _ = crate::storage::failpoint::hit("audit:before_line");
    rec.finish(&summary, backup.as_deref(), &result);
    // `rec` drops here: the env's lock it held (if any) is let go after the line is written.
    result
}

impl Recorder {
    fn new(log: PathBuf, env: &str, file: &Path, verb: crate::verb::Verb) -> Recorder {
        Recorder {
            log,
            env: env.into(),
            file: file.into(),
            verb,
            started: std::time::Instant::now(),
            after: Default::default(),
            held: Default::default(),
        }
    }

    /// Keeps `lock` (a clone of the env's lock the action took) until the action's line is
    /// written.
    pub fn hold(&self, lock: &crate::safety::lock::EnvLock) {
        if let Ok(mut h) = self.held.lock() {
            h.push(lock.clone());
        }
    }

    /// Records what the action left, read while the verb still holds the env's lock.
    pub fn set_after(&self, fp: crate::storage::fingerprint::Fingerprint) {
        if let Ok(mut a) = self.after.lock() {
            *a = Some(fp);
        }
    }

    /// The database's fingerprint now (`None` if it cannot be read: undo then asks again).
    fn fingerprint_now(&self) -> Option<crate::storage::fingerprint::Fingerprint> {
        let conn = crate::storage::db::open(
            &self.file,
            crate::storage::db::Access::ReadOnly,
            std::time::Duration::from_secs(5),
        )
        .ok()?;
        conn.execute_batch("BEGIN").ok()?;
        crate::storage::fingerprint::of(&conn)
            .inspect_err(|e| tracing::warn!("fingerprint after {}: {e}", self.verb))
            .ok()
    }

    fn finish<T>(&self, summary: &str, backup: Option<&Path>, result: &Result<T>) {
        let (outcome, error) = match result {
            Ok(_) => ("ok", None),
            Err(e) if e.is_cancel() => ("cancelled", None),
            Err(e) if e.exit_code() == crate::error::exit::REFUSED => {
                ("refused", Some(e.to_string()))
            }
            // Committed: undo can restore its backup (see `last_undoable`). So is a restore whose
            // previous content could not be put back: the database holds what it wrote, and undo
            // must bring back its pre-restore backup, not an older action's (review 25).
            Err(e @ Error::CommittedCheckFailed { .. })
            | Err(
                e @ Error::PutBack {
                    put_back_failed: Some(_),
                    ..
                },
            ) => (COMMITTED_CHECK_FAILED, Some(e.to_string())),
            Err(e) => ("failed", Some(e.to_string())),
        };
        let entry = AuditEntry {
            time: crate::now_rfc3339(),
            user: os_user(),
            pid: std::process::id(),
            env: self.env.clone(),
            file: self.file.clone(),
            verb: self.verb.as_str().into(),
            summary: summary.into(),
            backup: backup.map(Path::to_path_buf),
            outcome: outcome.into(),
            error,
            duration_ms: self.started.elapsed().as_millis() as u64,
            after: match (result, backup) {
                (
                    Ok(_)
                    | Err(Error::CommittedCheckFailed { .. })
                    | Err(Error::PutBack {
                        put_back_failed: Some(_),
                        ..
                    }),
                    Some(_),
                ) if self.verb != crate::verb::Verb::Backup => self
                    .after
                    .lock()
                    .ok()
                    .and_then(|mut a| a.take())
                    .or_else(|| self.fingerprint_now()),
                _ => None,
            },
        };
        // Refused for want of room for this very line: writing it would cut it short.
        if matches!(result, Err(Error::NoSpace { what, .. }) if what == NO_ROOM_FOR_THE_LINE) {
            tracing::warn!("not logged (no room for the audit line): {summary}");
            return;
        }
        // The log was checked writable before the action (`require_writable`); a failure now must
        // not hide what happened to the database, so it is reported, not returned.
        if let Err(e) = append(&self.log, &entry) {
            tracing::error!("audit log: {e}");
        }
    }
}

/// Records an action cancelled at the prompt, or refused while it was being planned (before `run` was reached), so that the
/// log shows every attempt. Usage errors (an env that does not resolve) are not recorded.
pub fn record_refusal(ws: &crate::Workspace, env: &str, verb: crate::verb::Verb, err: &Error) {
    let Ok(target) = ws.env(env) else { return };
    let summary = match err {
        Error::Cancelled => "cancelled at the prompt",
        _ => "refused while planning",
    };
    let failed = || -> Result<()> { Err(clone_for_log(err)) };
    let _ = recorded(
        ws,
        &target.name,
        &target.path,
        verb,
        |_| failed(),
        |_| (summary.into(), None),
    );
}

fn clone_for_log(err: &Error) -> Error {
    if matches!(err, Error::Cancelled) {
        return Error::Cancelled;
    }
    match err.exit_code() {
        crate::error::exit::REFUSED => Error::Refused(err.to_string()),
        _ => Error::InvalidInput(err.to_string()),
    }
}

/// Refuses an action whose audit line could not be written, before anything changes.
pub fn require_writable(log: &Path) -> Result<()> {
    // A full disk takes the line half-way (review 27: exports went on, exit 0, their lines cut
    // short): the action is refused while there is not room for the line with margin.
    let dir = log.parent().unwrap_or(Path::new("."));
    if let Ok(available) = crate::storage::os::available_space(dir) {
        if available < AUDIT_ROOM {
            return Err(Error::NoSpace {
                dir: dir.to_path_buf(),
                needed: AUDIT_ROOM,
                available,
                what: NO_ROOM_FOR_THE_LINE.into(),
            });
        }
    }
    crate::storage::fs::check_appendable(log).map_err(|e| match e {
        Error::Io { source, .. }
            if matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            Error::ReadOnly {
                path: log.to_path_buf(),
                what: format!("the audit log cannot be written ({source}); every action is logged"),
            }
        }
        e => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `ok` entry of `verb` on `env`, with `backup`.
    fn entry(env: &str, verb: &str, backup: Option<&str>) -> AuditEntry {
        AuditEntry {
            time: "2026-12-03T00:00:00Z".into(),
            user: "u".into(),
            pid: 1,
            env: env.into(),
            file: "x.sqlite3".into(),
            verb: verb.into(),
            summary: String::new(),
            backup: backup.map(PathBuf::from),
            outcome: "ok".into(),
            error: None,
            duration_ms: 0,
            after: None,
        }
    }

    /// Of a log over the cap only the newest whole lines are read: the last action is found.
    #[test]
    fn a_log_over_the_cap_is_read_from_its_newest_whole_line() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("audit.jsonl");
        for i in 0..50 {
            let mut e = entry("dev", if i == 49 { "reset" } else { "seed" }, None);
            e.summary = "x".repeat(100);
            append(&log, &e).unwrap();
        }
        let len = std::fs::metadata(&log).unwrap().len();
        let (all, bad) = read_capped(&log, None, len).unwrap();
        assert_eq!((all.len(), bad), (50, 0));
        // A cap that falls mid-line: the cut line is dropped, not counted as unreadable.
        let (tail, bad) = read_capped(&log, None, len / 3).unwrap();
        assert!(tail.len() < 50 && tail.len() >= 15, "{}", tail.len());
        assert_eq!(bad, 0);
        assert_eq!(tail.last().unwrap().verb, "reset");
    }

    /// Undo's target and the repoint check read the whole log line by line: an over-long line
    /// (passed over) and many newer lines of other envs do not hide the action.
    #[test]
    fn undos_target_is_found_behind_long_lines_and_other_envs_lines() {
        let d = tempfile::tempdir().unwrap();
        let ws = crate::Workspace::at(d.path()).unwrap();
        let log = ws.audit_path();
        append(&log, &entry("dev", "reset", Some("b1.sqlite3.zst"))).unwrap();
        crate::storage::fs::append_line(&log, &vec![b'x'; (LINE_CAP as usize) * 2]).unwrap();
        for _ in 0..100 {
            append(&log, &entry("test", "seed", Some("t.sqlite3.zst"))).unwrap();
        }
        let found = last_undoable(&ws, "dev").unwrap().unwrap();
        assert_eq!(found.verb, "reset");
        assert!(found.backup.unwrap().ends_with("b1.sqlite3.zst"));
        assert!(!repointed_after(&ws, "dev", &entry("dev", "reset", None)).unwrap());
        append(&log, &entry("dev", "env path", None)).unwrap();
        assert!(repointed_after(&ws, "dev", &entry("dev", "reset", None)).unwrap());
    }
}
