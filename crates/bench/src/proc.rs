//! Running a whole process and measuring it: wall time and the child's own peak RSS (wait4).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// What one process run cost.
#[derive(Debug, Clone)]
pub struct Run {
    pub wall: Duration,
    /// Peak resident set size of this child alone, in KiB (`ru_maxrss` from wait4).
    pub max_rss_kib: u64,
    pub stdout: String,
}

/// Runs `cmd` to completion with stdout/stderr captured in files under `scratch`; fails with the
/// command's stderr if it exits non-zero.
pub fn run(mut cmd: Command, scratch: &Path) -> Result<Run> {
    let out_path = scratch.join("last.stdout");
    let err_path = scratch.join("last.stderr");
    let out = std::fs::File::create(&out_path)?;
    let err = std::fs::File::create(&err_path)?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let what = format!("{cmd:?}");
    let started = Instant::now();
    let child = cmd.spawn().with_context(|| format!("starting {what}"))?;
    let (status, rss) = wait4(child.id() as libc::pid_t)?;
    let wall = started.elapsed();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    if status != 0 {
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        bail!("{what} exited with {status}: {}", stderr.trim());
    }
    Ok(Run {
        wall,
        max_rss_kib: rss,
        stdout,
    })
}

/// Waits for `pid` and returns (exit code, peak RSS in KiB). Signals count as 128 + signo.
fn wait4(pid: libc::pid_t) -> Result<(i32, u64)> {
    let mut status: libc::c_int = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 writes into both out-parameters.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; pointers are to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("waiting for the child");
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok((code, ru.ru_maxrss as u64))
}

/// Median of several runs of a command (the first run warms the page cache and is discarded).
pub fn median_of(n: usize, scratch: &Path, mk: impl Fn() -> Command) -> Result<Duration> {
    run(mk(), scratch)?;
    let mut v = (0..n)
        .map(|_| run(mk(), scratch).map(|r| r.wall))
        .collect::<Result<Vec<_>>>()?;
    v.sort();
    Ok(v[v.len() / 2])
}

/// The first line of a command's output, or `None` if it cannot run.
pub fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|s| s.trim().to_string())
}
