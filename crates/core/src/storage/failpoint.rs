//! Test-only named points where a process can be made to pause, abort or fail.
//!
//! With the `failpoints` feature, `PIPELINE_DB_FAILPOINT=<name>=<action>` (action: `abort`,
//! `error`, `error@N` — the N-th time —, or `sleep:<ms>`) acts when the code reaches `hit("<name>")`. Without the feature,
//! `hit` is a no-op the compiler removes.

use crate::error::Result;

#[cfg(feature = "failpoints")]
pub fn hit(name: &str) -> Result<()> {
    let Ok(spec) = std::env::var("PIPELINE_DB_FAILPOINT") else {
        return Ok(());
    };
    for item in spec.split(',') {
        let Some((point, action)) = item.split_once('=') else {
            continue;
        };
        if point != name {
            continue;
        }
        tracing::warn!(point, action, "failpoint hit");
        match action {
            "abort" => std::process::abort(),
            "error" => {
                return Err(crate::Error::Io {
                    op: "injected failure at",
                    path: point.into(),
                    source: std::io::Error::other("failpoint"),
                })
            }
            // `error@N`: the N-th time the point is reached (a failure part-way through a loop).
            a if a.starts_with("error@") => {
                static HITS: std::sync::Mutex<Vec<(String, u64)>> = std::sync::Mutex::new(vec![]);
                let nth: u64 = a[6..].parse().unwrap_or(1);
                let mut hits = HITS.lock().unwrap_or_else(|p| p.into_inner());
                let n = match hits.iter_mut().find(|(p, _)| p == point) {
                    Some((_, n)) => {
                        *n += 1;
                        *n
                    }
                    None => {
                        hits.push((point.to_string(), 1));
                        1
                    }
                };
                if n == nth {
                    return Err(crate::Error::Io {
                        op: "injected failure at",
                        path: point.into(),
                        source: std::io::Error::other("failpoint"),
                    });
                }
            }
            a if a.starts_with("sleep:") => {
                let ms = a[6..].parse().unwrap_or(1000);
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) -> Result<()> {
    Ok(())
}
