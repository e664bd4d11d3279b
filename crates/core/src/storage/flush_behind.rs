//! A file writer for big new files: full buffers go to a second thread, which writes them and
//! starts the disk's writeback as it goes, so the caller's fsync finds little left to do and the
//! caller never waits on a `write` call. Durability is unchanged: nothing counts before the fsync.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes per buffer handed to the writing thread.
const BUF: usize = 1 << 20;
/// Buffers in flight: bounds the memory (and how far the writer may fall behind).
const IN_FLIGHT: usize = 4;
/// Bytes between two writeback requests.
const WRITEBACK_EVERY: u64 = 16 << 20;

/// Writes `file` on a second thread; [`FlushBehind::finish`] hands it back, written, for the fsync.
pub struct FlushBehind {
    buf: Vec<u8>,
    full: Option<SyncSender<Vec<u8>>>,
    empty: Receiver<Vec<u8>>,
    worker: Option<JoinHandle<io::Result<File>>>,
}

impl FlushBehind {
    pub fn new(file: File) -> io::Result<FlushBehind> {
        let (full, to_write) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (give_back, empty) = sync_channel::<Vec<u8>>(IN_FLIGHT + 1);
        let worker = std::thread::Builder::new()
            .name("flush-behind".into())
            .spawn(move || write_all(file, to_write, give_back))?;
        Ok(FlushBehind {
            buf: Vec::with_capacity(BUF),
            full: Some(full),
            empty,
            worker: Some(worker),
        })
    }

    /// Writes what is buffered, waits for the thread and returns the file (not fsynced: the
    /// caller's job), or the first error the thread met.
    pub fn finish(mut self) -> io::Result<File> {
        self.send()?;
        self.full = None;
        self.join()
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BUF));
        let full = std::mem::replace(&mut self.buf, next);
        let sent = self.full.as_ref().map(|tx| tx.send(full));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread stopped: its error is the one to report.
            _ => {
                self.full = None;
                self.join().map(|_| ()).and(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the writing thread stopped",
                )))
            }
        }
    }

    fn join(&mut self) -> io::Result<File> {
        match self.worker.take() {
            Some(w) => w
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the writing thread panicked"))),
            None => Err(io::Error::other("the writing thread already stopped")),
        }
    }
}

impl Write for FlushBehind {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(BUF - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == BUF {
            self.send()?;
        }
        Ok(n)
    }

    /// Buffers are written by the thread; durability comes from the caller's fsync only.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for FlushBehind {
    fn drop(&mut self) {
        self.full = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// The thread: writes each buffer, asks for writeback of every [`WRITEBACK_EVERY`] bytes and
/// waits for the range before it, hands the buffer back for reuse.
fn write_all(
    mut file: File,
    to_write: Receiver<Vec<u8>>,
    give_back: SyncSender<Vec<u8>>,
) -> io::Result<File> {
    let (mut written, mut requested, mut before) = (0u64, 0u64, None);
    for mut buf in to_write {
        file.write_all(&buf)?;
        written += buf.len() as u64;
        if written - requested >= WRITEBACK_EVERY {
            let range = (requested, written - requested);
            // A writeback error reported here is the file's error: the fsync would not see it.
            crate::storage::os::write_behind(&file, range.0, range.1, before)?;
            (before, requested) = (Some(range), written);
        }
        buf.clear();
        let _ = give_back.try_send(buf);
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn write_through(pieces: &[Vec<u8>]) -> Vec<u8> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let mut w = FlushBehind::new(File::create(&p).unwrap()).unwrap();
        for piece in pieces {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap().sync_all().unwrap();
        std::fs::read(&p).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Whatever the sizes of the writes, the file holds exactly the bytes, in order.
        #[test]
        fn the_file_holds_every_byte_in_order(
            sizes in proptest::collection::vec(0usize..3 * BUF, 0..12),
            seed in any::<u8>(),
        ) {
            let pieces: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(i, n)| (0..*n).map(|k| (k as u8) ^ (i as u8) ^ seed).collect())
                .collect();
            let expected: Vec<u8> = pieces.concat();
            prop_assert_eq!(write_through(&pieces), expected);
        }
    }

    #[test]
    fn more_than_the_writeback_step_is_written_whole() {
        let piece: Vec<u8> = (0..=255u8).cycle().take(BUF + 17).collect();
        let pieces = vec![piece; 40]; // > 2 × WRITEBACK_EVERY
        assert_eq!(write_through(&pieces), pieces.concat());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_error_of_the_thread_is_the_callers_error() {
        // /dev/full fails every write with ENOSPC.
        let Ok(f) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
            return;
        };
        let mut w = FlushBehind::new(f).unwrap();
        let data = vec![7u8; BUF];
        let mut err = None;
        for _ in 0..(IN_FLIGHT + 4) {
            if let Err(e) = w.write_all(&data) {
                err = Some(e);
                break;
            }
        }
        let err = err.or_else(|| w.finish().err()).expect("an error");
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    }
}
