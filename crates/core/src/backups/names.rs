//! Backup names and export paths: what a user may type, and where it may resolve to.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Longest file name we accept (bytes), the common filesystem limit.
/// Leaves room under the filesystem's 255-byte limit for our temp and sidecar suffixes
/// (`.<name>.pdb-tmp-<pid>-<nanos>`, `-journal`, `.json`).
pub const MAX_NAME_BYTES: usize = 200;

/// Characters that make a name look like something else: bidi overrides, zero-width marks, BOM.
pub(crate) fn is_deceptive(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

fn invalid(what: &str, value: &str, why: &str) -> Error {
    Error::InvalidInput(format!(
        "invalid {what} \"{}\": {why}",
        crate::storage::text::echo(value)
    ))
}

/// Why a single file name is unacceptable, if it is.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return Some("it is longer than 200 bytes");
    }
    if name.contains('\0') {
        return Some("it contains a NUL byte");
    }
    if name.chars().any(|c| c.is_control() || is_deceptive(c)) {
        return Some("it contains control or invisible characters");
    }
    if name == "." || name == ".." {
        return Some("`.` and `..` are not names");
    }
    None
}

/// A backup name as typed where a *name* is expected: one plain file name, not hidden, no
/// directory part, no `..`, no NUL or control characters, at most 200 bytes.
pub fn check_backup_name(name: &str) -> Result<()> {
    if let Some(why) = name_problem(name) {
        return Err(invalid("backup name", name, why));
    }
    if name.contains('/') || name.contains('\\') {
        return Err(invalid(
            "backup name",
            name,
            "a name has no directory part; give a path with `/` to use a file elsewhere",
        ));
    }
    if name.starts_with('.') {
        return Err(invalid(
            "backup name",
            name,
            "hidden and temporary files are not backups",
        ));
    }
    Ok(())
}

/// Resolves a backup name inside `dir`: the file must exist, be a regular file (not a symlink),
/// and its resolved parent must be `dir` itself.
pub fn resolve_in_dir(dir: &Path, name: &str) -> Result<PathBuf> {
    check_backup_name(name)?;
    let mut path = dir.join(name);
    // A name without its suffix: the plain backup, else the compressed one.
    for suffix in [".sqlite3", ".sqlite3.zst"] {
        if std::fs::symlink_metadata(&path).is_ok() || name.ends_with(suffix) {
            break;
        }
        path = dir.join(format!("{name}{suffix}"));
    }
    let meta = std::fs::symlink_metadata(&path).map_err(|_| {
        Error::InvalidInput(format!(
            "no backup named `{name}` in {}; see `pipeline-db backups list`",
            dir.display()
        ))
    })?;
    if !meta.file_type().is_file() {
        let kind = match meta.file_type().is_symlink() {
            true => "a symbolic link",
            false => crate::storage::os::special_file_kind(&meta.file_type()),
        };
        return Err(Error::Refused(format!(
            "{} is {kind}, not a regular file: no backup; refusing to use it",
            path.display()
        )));
    }
    let canon_dir = std::fs::canonicalize(dir).map_err(Error::io("resolving", dir))?;
    let canon = std::fs::canonicalize(&path).map_err(Error::io("resolving", &path))?;
    if canon.parent() != Some(canon_dir.as_path()) {
        return Err(Error::Refused(format!(
            "{} resolves outside {}; refusing to use it",
            path.display(),
            dir.display()
        )));
    }
    Ok(canon)
}

/// A backup named by a caller that may only choose from `dir`'s listing (the desktop's page: it
/// is untrusted, so it names a listed backup — by name, or by the path the listing gave it — and
/// any other file comes from a native dialog raised in Rust).
pub fn from_listing(dir: &Path, arg: &str) -> Result<PathBuf> {
    let p = Path::new(arg);
    let name = match p.parent().filter(|d| !d.as_os_str().is_empty()) {
        None => arg,
        Some(parent) => {
            let inside = std::fs::canonicalize(parent).ok() == std::fs::canonicalize(dir).ok();
            match (inside, p.file_name().and_then(|n| n.to_str())) {
                (true, Some(n)) => n,
                _ => {
                    return Err(Error::Refused(format!(
                        "{arg} is not a backup listed in {} (`pipeline-db backups list` names them; in the desktop, other files are picked in the open dialog); nothing was changed",
                        dir.display()
                    )))
                }
            }
        }
    };
    resolve_in_dir(dir, name)
}

/// A directory we write into on our own (the backup dir) must be itself, not a symlink to
/// somewhere else: nothing is written outside the data dir except an explicit `--output`.
///
/// A directory that does not exist yet is checked through its nearest existing ancestor, so a
/// symlinked `backups/` or `backups/<env>` is refused before anything is created through it.
pub fn check_resolves_to_itself(dir: &Path) -> Result<()> {
    let mut existing = dir;
    while std::fs::symlink_metadata(existing).is_err() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => return Ok(()),
        }
    }
    let dangling = std::fs::symlink_metadata(existing).is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::metadata(existing).is_err();
    let canon = match dangling {
        true => std::fs::read_link(existing).map_err(Error::io("resolving", existing))?,
        false => std::fs::canonicalize(existing).map_err(Error::io("resolving", existing))?,
    };
    if canon != existing {
        return Err(Error::Refused(format!(
            "{} resolves to {} (a symlink?); refusing to read, write or delete backups through it. Make it a plain directory inside the data dir",
            existing.display(),
            canon.display()
        )));
    }
    Ok(())
}

/// Checks every component of a user-given path: no `..`, NUL, control characters, over-long names.
fn check_path_components(what: &str, p: &Path) -> Result<String> {
    let text = p.to_str().ok_or_else(|| {
        Error::InvalidInput(format!("invalid {what} {}: it is not UTF-8", p.display()))
    })?;
    if text.is_empty() {
        return Err(invalid(what, text, "it is empty"));
    }
    for c in p.components() {
        match c {
            Component::ParentDir => return Err(invalid(what, text, "it contains `..`")),
            Component::Normal(n) => {
                if let Some(why) = name_problem(&n.to_string_lossy()) {
                    return Err(invalid(what, text, why));
                }
            }
            _ => {}
        }
    }
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| invalid(what, text, "it names no file"))?;
    if text.ends_with('/') {
        return Err(invalid(what, text, "it names a directory, not a file"));
    }
    Ok(name)
}

/// An explicit export path (`backup --output`): no `..`, NUL, control characters or over-long
/// names; its directory must exist and is resolved (symlinks in it followed once, here); the file
/// itself must not exist (never overwritten, never a symlink followed). Returns the resolved path.
pub fn check_output_path(p: &Path) -> Result<PathBuf> {
    // `-` means stdout to most tools; here it would be a file named `-` in the current dir.
    if p == Path::new("-") {
        return Err(Error::InvalidInput(
            "`-` is not an output file here: give a path (an export without --output writes to stdout)"
                .into(),
        ));
    }
    let name = check_path_components("output path", p)?;
    let abs = std::path::absolute(p).map_err(Error::io("resolving", p))?;
    let parent = abs.parent().unwrap_or(Path::new("/"));
    let parent = std::fs::canonicalize(parent).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Missing {
            path: parent.to_path_buf(),
            next: "create the directory first (is the USB stick mounted?), or choose another --output; nothing was written".into(),
        },
        _ => Error::io("output directory", parent)(e),
    })?;
    if !parent.is_dir() {
        return Err(Error::InvalidInput(format!(
            "{} is not a directory",
            parent.display()
        )));
    }
    let out = parent.join(&name);
    if std::fs::symlink_metadata(&out).is_ok() {
        return Err(Error::Refused(format!(
            "{} already exists; it was not overwritten. Choose another name",
            out.display()
        )));
    }
    Ok(out)
}

/// A file given as a path — a backup (`restore ENV ./x.sqlite3`), an import file — named in
/// every message by `noun` ("backup", "import file"): same character rules, must be an existing
/// regular file (a FIFO, a device or a directory is refused, exit 3, without being opened).
/// Returns the resolved path (a symlink to a regular file is followed, here, once).
pub fn check_input_path(p: &Path, noun: &str) -> Result<PathBuf> {
    check_path_components(&format!("{noun} path"), p)?;
    let meta = std::fs::metadata(p)
        .map_err(|e| Error::InvalidInput(format!("cannot read {noun} {}: {e}", p.display())))?;
    if !meta.is_file() {
        return Err(not_a_regular_input(p, noun, &meta.file_type()));
    }
    std::fs::canonicalize(p).map_err(Error::io("resolving", p))
}

/// The refusal of an input that is no regular file (a FIFO would make a read wait forever), at
/// the plan and whenever the file is opened again.
pub fn not_a_regular_input(p: &Path, noun: &str, t: &std::fs::FileType) -> Error {
    Error::Refused(format!(
        "{} is {}, not a regular file; refusing to read it as {} {noun}, nothing was read. Give the path of a regular file",
        p.display(),
        crate::storage::os::special_file_kind(t),
        if noun.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" },
    ))
}

/// A backup argument: a plain name is looked up in `dir`; anything with a `/` is a path.
pub fn resolve_backup_arg(dir: &Path, arg: &str) -> Result<PathBuf> {
    if arg.contains('/') {
        check_input_path(Path::new(arg), "backup")
    } else {
        resolve_in_dir(dir, arg)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_leave_room_for_temp_and_sidecar_suffixes() {
        assert!(super::check_backup_name(&format!("{}.sqlite3", "a".repeat(192))).is_ok());
        assert!(super::check_backup_name(&format!("{}.sqlite3", "a".repeat(193))).is_err());
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_the_classic_bad_names() {
        let long = "a".repeat(300);
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "/etc/passwd",
            "a/b",
            "x\0y",
            "x\ny",
            "\u{202E}gpj.exe",
            ".hidden",
            long.as_str(),
        ] {
            assert!(check_backup_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "dev-20261126T120000000Z-manual.sqlite3",
            "démo été.sqlite3",
            "x",
        ] {
            check_backup_name(good).unwrap();
        }
    }

    #[cfg(unix)] // symlinks
    #[test]
    fn output_path_refuses_dotdot_existing_files_and_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(check_output_path(&sub.join("../x.sqlite3")).is_err());
        assert!(check_output_path(Path::new("/etc/passwd")).is_err());
        let target = d.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        let link = sub.join("link.sqlite3");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(check_output_path(&link).unwrap_err().exit_code(), 3);
        assert_eq!(
            check_output_path(&sub.join("new.sqlite3")).unwrap(),
            std::fs::canonicalize(&sub).unwrap().join("new.sqlite3")
        );
    }

    #[cfg(unix)] // symlinks
    #[test]
    fn resolve_in_dir_refuses_symlinks_out_of_the_dir() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("b");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(d.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), dir.join("s.sqlite3")).unwrap();
        assert_eq!(
            resolve_in_dir(&dir, "s.sqlite3").unwrap_err().exit_code(),
            3
        );
        std::fs::write(dir.join("ok.sqlite3"), "x").unwrap();
        assert!(resolve_in_dir(&dir, "ok")
            .unwrap()
            .ends_with("b/ok.sqlite3"));
        assert_eq!(resolve_in_dir(&dir, "missing").unwrap_err().exit_code(), 2);
    }

    proptest! {
        /// Whatever is accepted as a name stays inside the directory it is joined to.
        #[test]
        fn accepted_names_never_escape(name in "\\PC{0,80}|[./a\\x00-\\x1f]{0,12}") {
            if check_backup_name(&name).is_ok() {
                let joined = Path::new("/base").join(&name);
                prop_assert_eq!(joined.parent(), Some(Path::new("/base")));
                prop_assert!(!name.contains('\0') && !name.chars().any(char::is_control));
                prop_assert!(name.len() <= MAX_NAME_BYTES && name != "..");
            }
        }

        /// Names with a path separator, NUL or control character are always refused.
        #[test]
        fn names_with_bad_characters_are_refused(
            a in "[a-z]{0,10}", bad in "[/\\x00-\\x1f\\x7f]", b in "[a-z]{0,10}"
        ) {
            let name = format!("{a}{bad}{b}");
            prop_assert!(check_backup_name(&name).is_err());
        }

        /// Output paths with a `..` component are always refused, before touching the disk.
        #[test]
        fn output_paths_with_dotdot_are_refused(a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
            let p = format!("/tmp/{a}/../{b}.sqlite3");
            prop_assert!(check_output_path(Path::new(&p)).is_err());
        }
    }
}
