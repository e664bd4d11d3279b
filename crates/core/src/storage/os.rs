//! Every call that differs between operating systems, in one place. Linux is what is built and
//! tested here; macOS and Windows get the closest call that keeps the same guarantee, or a clear
//! refusal. The portable fallbacks (`portable::*`) are plain std code, compiled and unit-tested on
//! every platform, so a fallback that only runs elsewhere is never code nothing has compiled.

use std::fs::OpenOptions;
use std::path::Path;

/// Opens with owner-only permissions (0600 on Unix) and without following a symlink at the last
/// path component (`O_NOFOLLOW`; elsewhere a symlink there is refused before the open).
pub fn private_no_follow(opts: &mut OpenOptions, path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = path;
        // Never waits either: a FIFO put in a log's place fails or opens at once (then refused).
        opts.mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = opts;
        portable::refuse_symlink(path)
    }
}

/// Flags for reading a file anyone may have replaced: opening never waits (a FIFO opens at once,
/// and is then refused as no regular file), and a symlink is refused when `no_follow`.
pub fn reading_untrusted(
    opts: &mut OpenOptions,
    path: &Path,
    no_follow: bool,
) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = path;
        let follow = if no_follow { libc::O_NOFOLLOW } else { 0 };
        opts.custom_flags(libc::O_NONBLOCK | follow);
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = opts;
        match no_follow {
            true => portable::refuse_symlink(path),
            false => Ok(()),
        }
    }
}

/// Whether an I/O error says a symlink was met where none may be (`ELOOP` from `O_NOFOLLOW`).
pub fn is_symlink_refusal(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        e.kind() == std::io::ErrorKind::InvalidInput && e.to_string().contains("symlink")
    }
}

/// Renames `from` to `to` atomically, failing with `AlreadyExists` instead of replacing `to`:
/// `renameat2(RENAME_NOREPLACE)` on Linux, `renamex_np(RENAME_EXCL)` on macOS; elsewhere (and
/// where the filesystem has neither) a hard link, which is just as exclusive, then an unlink.
pub fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    {
        let f = std::ffi::CString::new(from.as_os_str().as_encoded_bytes())?;
        let t = std::ffi::CString::new(to.as_os_str().as_encoded_bytes())?;
        // SAFETY: both take NUL-terminated paths we own.
        #[cfg(target_os = "linux")]
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                f.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        #[cfg(target_os = "macos")]
        let rc = unsafe { libc::renamex_np(f.as_ptr(), t.as_ptr(), libc::RENAME_EXCL) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        let unsupported = [libc::EINVAL, libc::ENOSYS, libc::ENOTSUP];
        if !err.raw_os_error().is_some_and(|c| unsupported.contains(&c)) {
            return Err(err);
        }
    }
    portable::rename_noreplace(from, to)
}

/// Free bytes available to this user on the filesystem holding `existing` (which must exist):
/// `statvfs` on Unix, `GetDiskFreeSpaceExW` on Windows.
pub fn available_space(existing: &Path) -> std::io::Result<u64> {
    #[cfg(unix)]
    {
        let c = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes())?;
        // SAFETY: statvfs writes into the zeroed struct we own.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        #[allow(clippy::unnecessary_cast)] // the field types differ between Unixes
        Ok(st.f_bavail as u64 * st.f_frsize as u64)
    }
    #[cfg(windows)]
    {
        use std::os::windows::ffi::OsStrExt;
        let wide: Vec<u16> = existing.as_os_str().encode_wide().chain([0]).collect();
        let mut free: u64 = 0;
        // SAFETY: a NUL-terminated UTF-16 path; null pointers for the totals we do not want.
        let ok = unsafe {
            windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW(
                wide.as_ptr(),
                &mut free,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(free)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = existing;
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "free space cannot be measured on this platform; refusing rather than risk a partial backup",
        ))
    }
}

/// The kind of network filesystem holding `existing`, if it is one: SQLite's locks and its WAL's
/// shared memory are not reliable there ("WAL does not work over a network filesystem",
/// sqlite.org/wal.html). `statfs`'s `f_type` on Linux (NFS, SMB/CIFS, 9P — WSL2's Windows drives,
/// VM shares —, Ceph, AFS, Lustre, …; a FUSE filesystem by its type in `/proc/self/mountinfo`:
/// sshfs, rclone, s3fs and the like are network ones, bindfs, ntfs-3g or gocryptfs are not),
/// `f_fstypename` on macOS; `None` for a local disk, and where it cannot be told.
pub fn network_filesystem(existing: &Path) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let c = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: statfs writes into the zeroed struct we own.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)] // f_type's width differs between Linux targets
        match network_magic(st.f_type as i64) {
            Some(FUSE) => {
                // Which FUSE filesystem, mountinfo says; one it cannot name is not called local.
                let fstype = std::fs::read("/proc/self/mountinfo")
                    .ok()
                    .zip(std::fs::canonicalize(existing).ok())
                    .and_then(|(info, canon)| mount_type(&info, &canon));
                match fstype {
                    Some(t) => fuse_not_known_local(&t).map(|t| format!("FUSE: {t}")),
                    None => Some("FUSE (its type cannot be read)".to_string()),
                }
            }
            other => other.map(str::to_string),
        }
    }
    #[cfg(target_os = "macos")]
    {
        let c = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: statfs writes into the zeroed struct we own; f_fstypename is NUL-terminated.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        let name = unsafe { std::ffi::CStr::from_ptr(st.f_fstypename.as_ptr()) };
        let kind = match name.to_str().ok()? {
            "nfs" => "NFS",
            "smbfs" => "SMB",
            "afpfs" => "AFP",
            "webdav" => "WebDAV",
            _ => return None,
        };
        Some(kind.to_string())
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        let _ = existing;
        None
    }
}

/// FUSE's `f_type`: which filesystem it is, `/proc/self/mountinfo` says.
const FUSE: &str = "FUSE";

/// The type `/proc/self/mountinfo` (`mountinfo`: its bytes) gives the mount holding `path` (an
/// absolute, canonical path): the last of the longest mount points that are a prefix of it, by
/// whole components. The kernel writes mount points as raw bytes, `\040`-style escapes for space,
/// tab, newline and backslash.
#[cfg(unix)]
pub fn mount_type(mountinfo: &[u8], path: &Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let unescape = |b: &[u8]| {
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let octal = b
                .get(i + 1..i + 4)
                .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
            match (b[i], octal) {
                (b'\\', Some(d)) => {
                    out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8) + (c - b'0')));
                    i += 4;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&out))
    };
    let field = |b: &'_ [u8], n: usize| b.split(|c| *c == b' ').nth(n).map(<[u8]>::to_vec);
    let mut best: Option<(usize, String)> = None;
    for line in mountinfo.split(|c| *c == b'\n') {
        let Some(at) = line.windows(3).position(|w| w == b" - ") else {
            continue;
        };
        let (Some(point), Some(fstype)) = (field(&line[..at], 4), field(&line[at + 3..], 0)) else {
            continue;
        };
        let point = unescape(&point);
        let len = point.as_os_str().len();
        if path.starts_with(&point) && best.as_ref().is_none_or(|(l, _)| len >= *l) {
            best = Some((len, String::from_utf8_lossy(&fstype).into_owned()));
        }
    }
    best.map(|(_, t)| t)
}

/// A FUSE filesystem type from `mountinfo` (`fuse.sshfs`, `fuse.bindfs`, `fuseblk`, …): `None`
/// for one known to keep its files on a local disk, else its name (sshfs, rclone, GNOME's gvfs
/// shares, or one we do not know: SQLite's locks hold there only if it passes them on).
pub fn fuse_not_known_local(fstype: &str) -> Option<String> {
    const LOCAL: [&str; 12] = [
        "fuseblk",
        "fuse.bindfs",
        "fuse.ntfs-3g",
        "fuse.ntfs",
        "fuse.gocryptfs",
        "fuse.encfs",
        "fuse.mergerfs",
        "fuse.unionfs",
        "fuse.lxcfs",
        "fuse.squashfuse",
        "fuse.fuse-overlayfs",
        "fuse.cryfs",
    ];
    (!LOCAL.contains(&fstype)).then(|| fstype.to_string())
}

/// [`network_filesystem`]'s Linux `f_type` magic numbers (linux/magic.h and the filesystems').
pub fn network_magic(f_type: i64) -> Option<&'static str> {
    // Some targets report f_type sign-extended: compare the low 32 bits.
    match f_type as u32 {
        0x6969 => Some("NFS"),
        0x517B => Some("SMB"),
        0xFF53_4D42 => Some("CIFS"),
        0xFE53_4D42 => Some("SMB2"),
        0x0102_1997 => Some("9P (a VM share or WSL's Windows drive)"),
        0x6573_5546 => Some(FUSE),
        0x00C3_6400 => Some("Ceph"),
        0x5346_414F => Some("AFS"),
        0x0BD0_0BD0 => Some("Lustre"),
        0x7375_7245 => Some("Coda"),
        0x0116_1970 => Some("GFS2"),
        0x7461_636F => Some("OCFS2"),
        _ => None,
    }
}

/// Asks the kernel to start writing `len` bytes at `offset` of `file` to the disk and, when
/// `wait` is given, waits until the earlier range `wait` (offset, len) is written
/// (`sync_file_range` on Linux). Only a head start for the caller's fsync, never instead of it:
/// nothing is durable before that fsync. A write error the kernel reports here is returned — it
/// must be: once reported, the fsync on the same file would no longer see it. Where the call is
/// not supported (another OS, a filesystem without it) it does nothing.
pub fn write_behind(
    file: &std::fs::File,
    offset: u64,
    len: u64,
    wait: Option<(u64, u64)>,
) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let fd = file.as_raw_fd();
        let call = |o: u64, l: u64, flags: libc::c_uint| {
            // SAFETY: a valid open descriptor; the call only schedules or waits for writeback.
            let rc = unsafe { libc::sync_file_range(fd, o as i64, l as i64, flags) };
            if rc == 0 {
                return Ok(());
            }
            let err = std::io::Error::last_os_error();
            let unsupported = [libc::EINVAL, libc::ENOSYS, libc::ESPIPE, libc::EOPNOTSUPP];
            match err.raw_os_error().is_some_and(|c| unsupported.contains(&c)) {
                true => Ok(()),
                false => Err(err),
            }
        };
        call(offset, len, libc::SYNC_FILE_RANGE_WRITE)?;
        if let Some((o, l)) = wait {
            call(
                o,
                l,
                libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER,
            )?;
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, offset, len, wait);
        Ok(())
    }
}

/// Whether process `pid` is alive (another user's counts as alive). Where this cannot be asked,
/// every other process counts as alive: its temporary files are then left, never removed.
pub fn pid_alive(pid: i32) -> bool {
    if pid == std::process::id() as i32 {
        return true;
    }
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks for existence; EPERM means it exists but is not ours.
        let alive = unsafe { libc::kill(pid, 0) == 0 };
        alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Another process that has one of `paths` open, as "pid N (name)": read from `/proc/*/fd` on
/// Linux (a `stat` through each descriptor's link: nothing is opened, so no lock of this process
/// is dropped), and — where that cannot see (another user's process when not root; elsewhere than
/// Linux) — SQLite's own locks asked with `F_GETLK`: a connection in a transaction locks the
/// database file, and every connection to a WAL database holds a lock on its `-shm`. The caller
/// must hold no SQLite lock of its own on these files (a handle opened and closed here would drop
/// it). `None`: none found; an idle connection to a rollback-journal database of another user is
/// the one that cannot be seen, and is logged as such.
pub fn opened_by_others(paths: &[&Path]) -> Option<String> {
    let ids: Vec<(u64, u64)> = paths.iter().filter_map(|p| file_identity(p)).collect();
    if ids.is_empty() {
        return None;
    }
    if let Some(found) = opened_in_proc(&ids) {
        return Some(found);
    }
    // A connection of ours open anywhere in the process (a query the desktop left finishing):
    // closing the probe's handle could drop its locks on the file, so the probe is not made.
    if crate::storage::held_open::connections_open() {
        tracing::warn!(
            "a connection of this process is open: SQLite's locks on the file are not probed"
        );
        return None;
    }
    // SQLite's lock bytes: the database's PENDING/RESERVED/SHARED range, the `-shm`'s locks and
    // its DMS byte.
    for p in paths {
        let name = p.to_string_lossy();
        let (start, len) = match name.ends_with("-shm") {
            true => (120, 9),
            false if name.ends_with("-wal") || name.ends_with("-journal") => continue,
            false => (0x4000_0000, 512),
        };
        if let Some(pid) = lock_holder(p, start, len) {
            return Some(format!(
                "pid {pid}, which holds a SQLite lock on {}",
                p.display()
            ));
        }
    }
    None
}

/// Linux: the first other process with a descriptor on one of `ids` (see [`opened_by_others`]).
#[cfg(target_os = "linux")]
fn opened_in_proc(ids: &[(u64, u64)]) -> Option<String> {
    let me = std::process::id().to_string();
    let mut unseen = 0usize;
    for proc_dir in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = proc_dir.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(proc_dir.path().join("fd")) else {
            unseen += 1;
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::metadata(fd.path())
                .map(|m| ids.contains(&identity_of(&m)))
                .unwrap_or(false)
        });
        if holds {
            let name = std::fs::read_to_string(proc_dir.path().join("comm"))
                .map(|n| n.trim().to_string())
                .unwrap_or_default();
            return Some(format!(
                "pid {pid} ({})",
                crate::storage::text::printable(&name)
            ));
        }
    }
    if unseen > 0 {
        tracing::warn!(
            "{unseen} processes of other users could not be looked at for the file (not root): only their SQLite locks are checked"
        );
    }
    None
}

#[cfg(not(target_os = "linux"))]
fn opened_in_proc(_ids: &[(u64, u64)]) -> Option<String> {
    None
}

/// The pid of another process holding a POSIX lock on `len` bytes of `path` from `start`.
#[cfg(unix)]
fn lock_holder(path: &Path, start: i64, len: i64) -> Option<i32> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    // Only a regular file, opened without waiting (a FIFO named like the `-shm` would block).
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    // SAFETY: a zeroed flock is a valid value; fcntl(F_GETLK) only reads and writes it.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = start as _;
    fl.l_len = len as _;
    // SAFETY: a valid descriptor and a valid flock for the call.
    let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETLK, &mut fl) };
    let unlocked = libc::F_UNLCK as libc::c_short;
    (r == 0 && fl.l_type != unlocked).then_some(fl.l_pid as i32)
}

#[cfg(not(unix))]
fn lock_holder(_path: &Path, _start: i64, _len: i64) -> Option<i32> {
    None
}

/// The names in a directory (empty if it cannot be read). On Unix through opendir/readdir, whose
/// `closedir` error is ignored (std's `ReadDir` panics on it under injected I/O faults).
pub fn list_dir(dir: &Path) -> Vec<std::ffi::OsString> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
            return vec![];
        };
        let mut out = vec![];
        // SAFETY: opendir/readdir/closedir on a NUL-terminated path; each entry's name is copied
        // before the next readdir call, and the stream is closed exactly once.
        unsafe {
            let d = libc::opendir(c.as_ptr());
            if d.is_null() {
                return out;
            }
            loop {
                let e = libc::readdir(d);
                if e.is_null() {
                    break;
                }
                let name = std::ffi::CStr::from_ptr((*e).d_name.as_ptr()).to_bytes();
                if name != b"." && name != b".." {
                    out.push(std::ffi::OsString::from_vec(name.to_vec()));
                }
            }
            libc::closedir(d);
        }
        out
    }
    #[cfg(not(unix))]
    {
        portable::list_dir(dir)
    }
}

/// (device, file number) of the file at `path`, following links: (st_dev, st_ino) on Unix, (volume
/// serial, file index) on Windows. Equal exactly when two paths name one file, hard links included.
pub fn file_identity(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(windows)]
    {
        use std::os::windows::io::AsRawHandle;
        use windows_sys::Win32::Storage::FileSystem::{
            GetFileInformationByHandle, BY_HANDLE_FILE_INFORMATION,
        };
        let f = std::fs::File::open(path).ok()?;
        // SAFETY: an open handle we own and a zeroed struct the call fills.
        let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
        if unsafe { GetFileInformationByHandle(f.as_raw_handle() as _, &mut info) } == 0 {
            return None;
        }
        let index = (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow);
        Some((u64::from(info.dwVolumeSerialNumber), index))
    }
    #[cfg(not(any(unix, windows)))]
    {
        // No file numbers: the canonical path is the identity (hard links are not recognised).
        let c = std::fs::canonicalize(path).ok()?;
        Some((0, portable::hash_path(&c)))
    }
}

/// Whether `m` (from `symlink_metadata`) is a regular file of this process's user: the only
/// kind of leftover temp file a clean-up removes (another user's file, a link or a directory that
/// happens to carry our marker is left alone). Without owners (not Unix): any regular file.
pub fn own_regular_file(m: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions.
        m.is_file() && m.uid() == unsafe { libc::geteuid() }
    }
    #[cfg(not(unix))]
    {
        m.is_file()
    }
}

/// Whether the open file `f` still has a name in some directory (`st_nlink` > 0 by `fstat`; where
/// that cannot be read, or elsewhere than Unix: assumed yes).
pub fn still_named(f: &std::fs::File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        f.metadata().map_or(true, |m| m.nlink() > 0)
    }
    #[cfg(not(unix))]
    {
        let _ = f;
        true
    }
}

/// Reads into `buf` from `offset` of `f` without moving (or using) its shared position.
pub fn read_at(f: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        f.read_at(buf, offset)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        f.seek_read(buf, offset)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (f, buf, offset);
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

/// (device, file number) of an open file's metadata: (st_dev, st_ino) on Unix. Elsewhere std's
/// metadata has no stable file number: (0, 0), and the callers' other facts (size, modification
/// time, a sha256 of what is read) must then tell files apart.
pub fn identity_of(meta: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

/// What a non-regular file is ("a FIFO (named pipe)", "a socket", …), for the refusal.
pub fn special_file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        } else if t.is_socket() {
            return "a socket";
        } else if t.is_char_device() {
            return "a character device";
        } else if t.is_block_device() {
            return "a block device";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Whether this process may write `path` (`access(W_OK)` on Unix; elsewhere the read-only
/// attribute, which is what Windows refuses a write for).
pub fn writable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
            return false;
        };
        // SAFETY: access(2) on a NUL-terminated path we own.
        unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
    }
    #[cfg(not(unix))]
    {
        portable::writable(path)
    }
}

/// The login name for the audit log: `$USER`/`$LOGNAME`/`%USERNAME%`, else the password database
/// (Unix), else `unknown user`.
pub fn os_user() -> String {
    for k in ["USER", "LOGNAME", "USERNAME"] {
        if let Ok(v) = std::env::var(k) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    #[cfg(unix)]
    {
        // SAFETY: getuid never fails; getpwuid returns a pointer to static storage or NULL,
        // read at once.
        unsafe {
            let uid = libc::getuid();
            let pw = libc::getpwuid(uid);
            if !pw.is_null() && !(*pw).pw_name.is_null() {
                return std::ffi::CStr::from_ptr((*pw).pw_name)
                    .to_string_lossy()
                    .into_owned();
            }
            format!("uid {uid}")
        }
    }
    #[cfg(not(unix))]
    {
        "unknown user".into()
    }
}

/// The fallbacks, in std alone (compiled and tested on every platform).
pub mod portable {
    use std::path::Path;

    /// No-replace rename by a hard link (fails with `AlreadyExists` if `to` exists) and an unlink.
    pub fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::hard_link(from, to)?;
        std::fs::remove_file(from)
    }

    /// Refuses a symlink at `path` (what `O_NOFOLLOW` does at open time).
    pub fn refuse_symlink(path: &Path) -> std::io::Result<()> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is a symlink; refusing to open it", path.display()),
            )),
            _ => Ok(()),
        }
    }

    pub fn list_dir(dir: &Path) -> Vec<std::ffi::OsString> {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return vec![];
        };
        rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect()
    }

    pub fn writable(path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| !m.permissions().readonly())
    }

    pub fn hash_path(path: &Path) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        path.hash(&mut h);
        h.finish()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn the_fallbacks_keep_the_guarantees() {
            let d = tempfile::tempdir().unwrap();
            let (a, b, c) = (d.path().join("a"), d.path().join("b"), d.path().join("c"));
            std::fs::write(&a, "new").unwrap();
            std::fs::write(&b, "old").unwrap();
            let e = super::rename_noreplace(&a, &b).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
            assert_eq!(std::fs::read_to_string(&b).unwrap(), "old");
            super::rename_noreplace(&a, &c).unwrap();
            assert!(!a.exists() && std::fs::read_to_string(&c).unwrap() == "new");

            let mut names = super::list_dir(d.path());
            names.sort();
            assert_eq!(names, ["b", "c"]);
            assert!(super::writable(&b));

            #[cfg(unix)]
            {
                let link = d.path().join("link");
                std::os::unix::fs::symlink(&b, &link).unwrap();
                let e = super::refuse_symlink(&link).unwrap_err();
                assert!(super::super::is_symlink_refusal(&e) || e.to_string().contains("symlink"));
                super::refuse_symlink(&b).unwrap();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Another process's SQLite lock is seen by `F_GETLK` — what finds another user's program
    /// holding a damaged database, where `/proc` cannot look (review 28) — and that program is
    /// named by `opened_by_others`.
    #[cfg(unix)]
    #[test]
    fn another_process_holding_a_sqlite_lock_is_seen() {
        use std::io::BufRead;
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("x.sqlite3");
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch("CREATE TABLE t (a);")
            .unwrap();
        assert_eq!(super::lock_holder(&db, 0x4000_0000, 512), None);
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(30)",
            ])
            .arg(&db)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the other program");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked");
        let pid = child.id() as i32;
        assert_eq!(super::lock_holder(&db, 0x4000_0000, 512), Some(pid));
        let by = super::opened_by_others(&[&db]).expect("seen");
        assert!(by.contains(&format!("pid {pid}")), "{by}");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The magic numbers as Linux reports them (some targets sign-extend `f_type`), and a local
    /// disk — the temp dir, and `/dev/shm` (tmpfs) where there is one — is none of them.
    #[cfg(unix)]
    #[test]
    fn network_filesystems_are_named_and_local_ones_are_not() {
        assert_eq!(super::network_magic(0x6969), Some("NFS"));
        assert_eq!(
            super::network_magic(0xFF53_4D42_u32 as i32 as i64),
            Some("CIFS")
        );
        assert!(super::network_magic(0x0102_1997).unwrap().starts_with("9P"));
        assert_eq!(super::network_magic(0x6573_5546), Some(super::FUSE));
        // A FUSE mount is named by its type: sshfs reaches over a network, bindfs does not.
        let info = "36 35 98:0 / / rw - ext4 /dev/vda rw\n\
                    40 36 0:50 / /mnt/far\\040away rw,nosuid - fuse.sshfs me@host:/srv rw\n\
                    41 36 0:51 / /mnt/near rw - fuse.bindfs /data rw\n";
        let at = |p: &str| super::mount_type(info.as_bytes(), std::path::Path::new(p));
        assert_eq!(
            at("/mnt/far away/dev.sqlite3").as_deref(),
            Some("fuse.sshfs")
        );
        assert_eq!(at("/mnt/near/dev.sqlite3").as_deref(), Some("fuse.bindfs"));
        assert_eq!(at("/home/dev.sqlite3").as_deref(), Some("ext4"));
        assert_eq!(
            super::fuse_not_known_local("fuse.sshfs").as_deref(),
            Some("fuse.sshfs")
        );
        assert_eq!(
            super::fuse_not_known_local("fuse.gvfsd-fuse").as_deref(),
            Some("fuse.gvfsd-fuse"),
            "a share GNOME Files mounted"
        );
        assert_eq!(
            super::fuse_not_known_local("fuse"),
            Some("fuse".into()),
            "unknown"
        );
        assert_eq!(super::fuse_not_known_local("fuse.bindfs"), None);
        assert_eq!(super::fuse_not_known_local("fuseblk"), None);
        // A mount point that is no UTF-8 elsewhere on the system, a sibling with a longer name,
        // and raw bytes under it.
        let mut raw = b"36 35 98:0 / / rw - ext4 /dev/vda rw\n".to_vec();
        raw.extend_from_slice(b"50 36 0:9 / /tmp/bad\xff rw - tmpfs none rw\n");
        raw.extend_from_slice(b"51 36 0:52 / /mnt/ab rw - fuse.sshfs h:/ rw\n");
        raw.extend_from_slice(b"52 36 0:53 / /mnt/\xfex rw - fuse.sshfs h:/ rw\n");
        let at = |p: &[u8]| {
            use std::os::unix::ffi::OsStrExt;
            super::mount_type(&raw, std::path::Path::new(std::ffi::OsStr::from_bytes(p)))
        };
        assert_eq!(
            at(b"/mnt/a/dev.sqlite3").as_deref(),
            Some("ext4"),
            "by component"
        );
        assert_eq!(at(b"/mnt/ab/dev.sqlite3").as_deref(), Some("fuse.sshfs"));
        assert_eq!(at(b"/mnt/\xfex/dev.sqlite3").as_deref(), Some("fuse.sshfs"));
        for local in [0xEF53_i64, 0x0102_1994, 0x5846_5342, 0x9123_683E] {
            assert_eq!(super::network_magic(local), None, "{local:#x}"); // ext4 tmpfs xfs btrfs
        }
        let d = tempfile::tempdir().unwrap();
        assert_eq!(super::network_filesystem(d.path()), None);
        if std::path::Path::new("/dev/shm").is_dir() {
            assert_eq!(
                super::network_filesystem(std::path::Path::new("/dev/shm")),
                None
            );
        }
    }
}
