//! The history on disk (`--history-dir`): one append-only file per segment, of frames
//! with a length and a CRC32 each, written and fsynced every 500 ms by the app's
//! flush task (never under the cache's lock), read back on start.
//!
//! ```text
//! file   := frame*                       named <start seq, 20 digits>.seg
//! frame  := len:u32le crc32:u32le kind:u8 payload      (crc over kind and payload)
//! kinds  := HEADER epoch:u64 seq:u64 time_ms:u64 [generation:u64]
//!         | STRING id text | LABELS id (k v)*
//!         | CHECKPOINT bytes | RECORD bytes (one change, as in memory)
//! ```
//!
//! Why this and not an embedded database: the history is already a sequence of
//! immutable, append-only records in segments that are dropped whole; a file per segment
//! is exactly that, `rm` drops one, a torn tail is found by its length or checksum and cut
//! off, and there is no second copy of the data in another format, no compaction and no
//! dependency. A `kill -9` loses what the flush task had not written yet (at most about a
//! second) and never what was fsynced; a full disk (any write error) turns persistence
//! off with a warning and a metric, and the history goes on in memory.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::super::change::Epoch;
use super::record::{Dict, Reader, Words, put_varint};
use super::{Mark, Retired, Segment};

const HEADER: u8 = 1;
const STRING: u8 = 2;
const LABELS: u8 = 3;
const CHECKPOINT: u8 = 4;
const RECORD: u8 = 5;

/// The longest frame accepted when reading: a longer length is a torn or corrupt tail.
const MAX_FRAME: usize = 256 << 20;

/// Appends one frame: length, CRC32 of kind and payload, kind, payload.
pub fn frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let len = u32::try_from(payload.len() + 1).unwrap_or(u32::MAX);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[kind]);
    crc.update(payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.push(kind);
    out.extend_from_slice(payload);
}

/// The file of the segment starting at `seq`.
pub fn file_name(seq: u64) -> String {
    format!("{seq:020}.seg")
}

/// The frames that open a segment's file: its header, the whole dictionary of its
/// generation (so a file stands on its own once older ones are deleted), its checkpoint.
pub fn opening(
    epoch: Epoch,
    generation: u32,
    start: Mark,
    dict: &Dict,
    checkpoint: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut header = Vec::with_capacity(32);
    header.extend_from_slice(&epoch.0.to_le_bytes());
    header.extend_from_slice(&start.seq.to_le_bytes());
    header.extend_from_slice(&start.time_ms.to_le_bytes());
    header.extend_from_slice(&u64::from(generation).to_le_bytes());
    frame(&mut out, HEADER, &header);
    dict_frames(&mut out, dict, 0, 0);
    frame(&mut out, CHECKPOINT, checkpoint);
    out
}

/// Frames for the dictionary's strings from id `strings` and label sets from id `labels` on.
pub fn dict_frames(out: &mut Vec<u8>, dict: &Dict, strings: u32, labels: u32) {
    let mut payload = Vec::new();
    for (id, text) in dict.strings_from(strings) {
        payload.clear();
        put_varint(&mut payload, u64::from(id));
        payload.extend_from_slice(text.as_bytes());
        frame(out, STRING, &payload);
    }
    for (id, pairs) in dict.labels_from(labels) {
        payload.clear();
        put_varint(&mut payload, u64::from(id));
        for (k, v) in pairs {
            put_varint(&mut payload, u64::from(k));
            put_varint(&mut payload, u64::from(v));
        }
        frame(out, LABELS, &payload);
    }
}

/// A record's frame.
pub fn record_frame(out: &mut Vec<u8>, record: &[u8]) {
    frame(out, RECORD, record);
}

/// What the flush task does on disk, in order.
#[derive(Debug)]
pub enum DiskOp {
    /// Start a new segment file (later appends go to it).
    Open(PathBuf),
    /// Append to the current file.
    Append(Vec<u8>),
    /// A segment left the history: delete its file.
    Delete(PathBuf),
}

/// The files of one history and whether writing them still works.
#[derive(Debug)]
pub struct Disk {
    dir: PathBuf,
    current: Mutex<Option<File>>,
    failed: AtomicBool,
}

impl Disk {
    /// The history files in `dir` (created when missing).
    pub fn new(dir: PathBuf) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(&dir)?;
        Ok(Arc::new(Self {
            dir,
            current: Mutex::new(None),
            failed: AtomicBool::new(false),
        }))
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a write failed (persistence is then off for good).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Carries out `ops` and fsyncs; on the first error, persistence stops (the caller
    /// logs and counts it). Returns the error, if any.
    pub fn apply(&self, ops: Vec<DiskOp>) -> std::io::Result<()> {
        if self.failed() || ops.is_empty() {
            return Ok(());
        }
        let result = self.apply_inner(ops);
        if result.is_err() {
            self.failed.store(true, Ordering::Relaxed);
            *self.current.lock() = None;
        }
        result
    }

    fn apply_inner(&self, ops: Vec<DiskOp>) -> std::io::Result<()> {
        let mut current = self.current.lock();
        let mut dir_changed = false;
        for op in ops {
            match op {
                DiskOp::Open(path) => {
                    if let Some(f) = current.as_mut() {
                        f.sync_data()?;
                    }
                    *current = Some(
                        OpenOptions::new()
                            .create(true)
                            .write(true)
                            .truncate(true)
                            .open(&path)?,
                    );
                    dir_changed = true;
                }
                DiskOp::Append(bytes) => match current.as_mut() {
                    Some(f) => f.write_all(&bytes)?,
                    None => return Err(std::io::Error::other("no history file open")),
                },
                DiskOp::Delete(path) => {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                    dir_changed = true;
                }
            }
        }
        if let Some(f) = current.as_mut() {
            f.sync_data()?;
        }
        if dir_changed {
            // New and deleted names are durable only once the folder is synced.
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// What was read back from a folder.
pub struct Loaded {
    /// Its segments, oldest first, each with its file.
    pub segments: Vec<Segment>,
    /// The dictionary of the newest generation.
    pub dict: Dict,
    /// Its generation.
    pub generation: u32,
    /// The dictionaries of older generations' segments.
    pub retired: Vec<Retired>,
    /// Files cut at a torn or corrupt frame, and files that held nothing usable.
    pub repaired: usize,
}

/// Reads every segment file in `dir`, cutting each at its first bad frame (a torn tail
/// after a crash) and deleting files without a usable header and checkpoint.
pub fn load(dir: &Path) -> std::io::Result<Loaded> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        // Regular files only: a link or a device is nothing this wrote.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    names.sort();
    let mut loaded = Loaded {
        segments: Vec::new(),
        dict: Dict::default(),
        generation: 0,
        retired: Vec::new(),
        repaired: 0,
    };
    for path in names {
        let bytes = std::fs::read(&path)?;
        // A file of a newer generation has a dictionary of its own: the one read so far
        // is the older segments'.
        if let Some(generation) = generation_of(&bytes)
            && generation > loaded.generation
        {
            if !loaded.segments.is_empty() {
                let old = std::mem::take(&mut loaded.dict);
                loaded.retired.push(Retired::of(loaded.generation, old));
            }
            loaded.dict = Dict::default();
            loaded.generation = generation;
        }
        let (segment, good) = read_segment(&bytes, &mut loaded.dict);
        // A segment older than one already read (two processes' files crossed): skip it.
        let in_order = match (&segment, loaded.segments.last()) {
            (Some(s), Some(prev)) => s.start.seq >= prev.last.seq,
            _ => true,
        };
        match segment {
            Some(mut s) if in_order && s.generation == loaded.generation => {
                if good < bytes.len() {
                    tracing::warn!(file = %path.display(), kept = good, size = bytes.len(), "history file cut at a torn or corrupt frame");
                    OpenOptions::new()
                        .write(true)
                        .open(&path)?
                        .set_len(good as u64)?;
                    loaded.repaired += 1;
                }
                s.file = Some(path);
                loaded.segments.push(s);
            }
            _ => {
                tracing::warn!(file = %path.display(), "history file without a usable start: deleted");
                std::fs::remove_file(&path)?;
                loaded.repaired += 1;
            }
        }
    }
    Ok(loaded)
}

/// The segment in `bytes` and how many bytes of it are good frames; `None` without a
/// header and a checkpoint.
fn read_segment(bytes: &[u8], dict: &mut Dict) -> (Option<Segment>, usize) {
    let mut pos = 0;
    let mut segment: Option<Segment> = None;
    let mut words: Option<Words> = None;
    while let Some((kind, payload, next)) = next_frame(bytes, pos) {
        let ok = match kind {
            HEADER if segment.is_none() => match header(payload) {
                Some((epoch, generation, start)) => {
                    segment = Some(Segment::new(epoch, generation, start, Vec::new()));
                    true
                }
                None => false,
            },
            STRING | LABELS if segment.is_some() => {
                words = None;
                dict.restore(kind == LABELS, payload)
            }
            CHECKPOINT => match segment.as_mut() {
                Some(s) if s.checkpoint.is_empty() => {
                    s.checkpoint = payload.into();
                    true
                }
                _ => false,
            },
            RECORD => match segment.as_mut() {
                Some(s) if !s.checkpoint.is_empty() => {
                    let w = words.get_or_insert_with(|| dict.words());
                    match Reader::new(payload, w).next_record() {
                        Ok(Some(r)) => {
                            s.last = Mark {
                                seq: s.last.seq + r.dseq,
                                time_ms: s.last.time_ms + r.dt_ms,
                            };
                            s.records.extend_from_slice(payload);
                            s.changes += 1;
                            true
                        }
                        _ => false,
                    }
                }
                _ => false,
            },
            _ => false,
        };
        if !ok {
            break;
        }
        pos = next;
    }
    match segment {
        Some(s) if !s.checkpoint.is_empty() => (Some(s), pos),
        _ => (None, 0),
    }
}

/// A header's epoch, generation and start; files written before dictionaries had
/// generations have none (generation 0).
fn header(payload: &[u8]) -> Option<(Epoch, u32, Mark)> {
    if payload.len() != 24 && payload.len() != 32 {
        return None;
    }
    let word = |i: usize| {
        payload
            .get(i * 8..i * 8 + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let generation = u32::try_from(word(3)).ok()?;
    let start = Mark {
        seq: word(1),
        time_ms: word(2),
    };
    Some((Epoch(word(0)), generation, start))
}

/// The generation of the file in `bytes`, from its first frame (its header).
fn generation_of(bytes: &[u8]) -> Option<u32> {
    match next_frame(bytes, 0)? {
        (HEADER, payload, _) => header(payload).map(|(_, g, _)| g),
        _ => None,
    }
}

/// The frame at `pos`: its kind, payload and where the next starts; `None` at the end or
/// at a torn or corrupt frame.
fn next_frame(bytes: &[u8], pos: usize) -> Option<(u8, &[u8], usize)> {
    let head = bytes.get(pos..pos + 8)?;
    let len = usize::try_from(u32::from_le_bytes(head[..4].try_into().ok()?)).ok()?;
    let crc = u32::from_le_bytes(head[4..8].try_into().ok()?);
    if len == 0 || len > MAX_FRAME {
        return None;
    }
    let body = bytes.get(pos + 8..pos + 8 + len)?;
    (crc32fast::hash(body) == crc).then(|| (body[0], &body[1..], pos + 8 + len))
}
