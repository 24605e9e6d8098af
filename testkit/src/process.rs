//! A child process — `podwall sim`, `podwall serve`, or a helper — killed (by its own id)
//! when dropped or when this process dies, with its stderr kept for the test to read or
//! appended to a log file, and its memory and CPU time from `/proc`.

use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A child process; see the module doc.
pub struct Process {
    child: Child,
    what: String,
    log: Log,
}

/// Where a process's stderr goes.
enum Log {
    /// Kept in memory, a line each.
    Lines(Arc<Mutex<Vec<String>>>),
    /// Appended to this file.
    File(PathBuf),
}

impl Process {
    /// Starts `command` with stdin and stdout closed, keeping its stderr lines.
    pub fn spawn(what: &str, command: &mut Command) -> Self {
        let mut child = launch(what, command.stdout(Stdio::null()), Stdio::piped());
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        // Drained for the process's whole life, or it would block on a full pipe.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().push(line);
            }
        });
        Self {
            child,
            what: what.to_owned(),
            log: Log::Lines(lines),
        }
    }

    /// Starts `command` with stdin closed and its stderr appended to `log` (large runs
    /// log more than a test wants to hold).
    pub fn spawn_logging_to(what: &str, command: &mut Command, log: &Path) -> Self {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
        Self {
            child: launch(what, command, file.into()),
            what: what.to_owned(),
            log: Log::File(log.to_owned()),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stdout, when the command piped it.
    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Fails loudly when the process died.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited: {status}", self.what);
        }
    }

    /// Kills it and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (`STOP`, `CONT`, `KILL`, …) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// Its stderr so far.
    pub fn logs(&self) -> String {
        match &self.log {
            Log::Lines(lines) => lines.lock().join("\n"),
            Log::File(path) => std::fs::read_to_string(path).unwrap_or_default(),
        }
    }

    /// The stderr lines so far that parse as JSON objects (`--log-format json`).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.logs()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for a JSON log line matching `pred`; panics after `deadline` with the log.
    pub async fn log_line(
        &self,
        what: &str,
        deadline: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let end = Instant::now() + deadline;
        loop {
            if let Some(line) = self.json_lines().into_iter().find(|l| pred(l)) {
                return line;
            }
            if Instant::now() > end {
                panic!(
                    "no log line for {what} within {deadline:?}; log:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The base URL of a `podwall serve` logging JSON (`--log-format json`), from its
    /// "podwall serving" line: the way to learn the port of `--listen 127.0.0.1:0`.
    pub async fn serving_url(&self, deadline: Duration) -> String {
        let line = self
            .log_line("podwall serving", deadline, |l| {
                l["message"] == "podwall serving"
            })
            .await;
        format!("http://{}", line["addr"].as_str().expect("addr field"))
    }

    /// Memory of the process now.
    pub fn memory(&self) -> Memory {
        Memory::of(self.pid())
    }

    /// Resident set size now (`VmRSS`), bytes.
    pub fn rss(&self) -> u64 {
        self.memory().rss_kib * 1024
    }

    /// User + system CPU seconds used so far (`/proc/PID/stat` fields 14 and 15).
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // The command name may contain spaces; fields are counted after its `)`.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // Fields 14 and 15 of the whole line are 11 and 12 after the name (state is 0).
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        (ticks(11) + ticks(12)) as f64 / hz
    }

    /// Resets the peak (VmHWM) to the current RSS, so the next peak is of what follows.
    pub fn reset_peak(&self) {
        // "5" to clear_refs resets the peak RSS (proc(5)); we own the process.
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .unwrap_or_else(|e| panic!("cannot reset the peak RSS of {}: {e}", self.what));
    }

    /// Waits until the RSS stops moving (two samples 500 ms apart within 1%).
    pub fn settled_memory(&mut self) -> Memory {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = self.memory();
        loop {
            std::thread::sleep(Duration::from_millis(500));
            self.assert_alive();
            let now = self.memory();
            let delta = now.rss_kib.abs_diff(last.rss_kib);
            if delta * 100 <= now.rss_kib || Instant::now() > deadline {
                return now;
            }
            last = now;
        }
    }

    /// What the process is, for messages.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A stopped process must be continued to die cleanly; errors: already gone.
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(self.pid().to_string())
            .stderr(Stdio::null())
            .status();
        self.kill();
    }
}

/// Starts `command` with stdin closed and `stderr`, marked to die with this process.
fn launch(what: &str, command: &mut Command, stderr: Stdio) -> Child {
    // SAFETY: prctl is async-signal-safe; it only marks the child to be killed when this
    // process dies, so an interrupted test or bench leaves no servers behind.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command
        .stdin(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"))
}

/// Resident memory of a process, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// VmRSS.
    pub rss_kib: u64,
    /// VmHWM: the peak RSS (since start or the last [`Process::reset_peak`]).
    pub hwm_kib: u64,
}

impl Memory {
    /// Reads `/proc/PID/status`.
    pub fn of(pid: u32) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        };
        Self {
            rss_kib: field("VmRSS:"),
            hwm_kib: field("VmHWM:"),
        }
    }

    /// This process's own memory (a test measuring what it costs a server in process).
    pub fn own() -> Self {
        Self::of(std::process::id())
    }
}
