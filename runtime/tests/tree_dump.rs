//! The task tree printed on a signal (`Builder::dump_tree_on`) and the watchdog of stuck task
//! steps (`Builder::watchdog`), observed from outside: each scenario runs in a child process
//! (this test binary again, running one test, with an environment variable naming the
//! scenario) whose stderr the test reads. Its own binary: signal dispositions are
//! process-wide.
//!
//! The child and the test wait for each other through events, not time: the child sends
//! itself the signal once its tasks are blocked, and then waits until the test, having seen
//! the tree on the child's stderr, closes the child's stdin.

use scoro::signal::{SIGUSR1, open_signal_receiver};
use scoro::sync::Event;
use scoro::testing::wait_all_tasks_blocked;
use scoro::{Builder, CancelRequested, ErrorGroup, nursery, structured};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{ChildStderr, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Names the scenario the child process runs.
const SCENARIO: &str = "SCORO_TREE_DUMP_SCENARIO";

/// The watchdog's threshold in the scenarios that have a stuck step, and how long that step
/// blocks the thread (`std::thread::sleep` is the blocking call under test there).
const THRESHOLD: Duration = Duration::from_millis(50);
const STUCK_FOR: Duration = Duration::from_millis(300);

fn scenario() -> Option<String> {
    std::env::var(SCENARIO).ok()
}

/// Writes `line` to stderr, where the child's runtime writes too.
fn say(line: &str) {
    let mut err = io::stderr().lock();
    writeln!(err, "{line}").unwrap();
    err.flush().unwrap();
}

/// Sends SIGUSR1 to this process from another thread, as `kill -USR1 <pid>` would.
fn send_sigusr1_to_self() {
    std::thread::spawn(|| {
        // SAFETY: `getpid` and `kill` have no preconditions; SIGUSR1 is handled while the run
        // that prints the tree on it is active.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGUSR1);
        }
    })
    .join()
    .unwrap();
}

/// The current disposition of SIGUSR1 (read only).
fn sigusr1_disposition() -> libc::sighandler_t {
    // SAFETY: a zeroed `sigaction` is valid to be written by `sigaction`, which only reads the
    // current disposition here (no new action).
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, std::ptr::null(), &mut old),
            0
        );
        old.sa_sigaction
    }
}

// ----- the child's programs -----------------------------------------------------------------

#[structured]
async fn first_waiter(event: &Event) -> Result<(), CancelRequested> {
    event.wait().await
}

#[structured]
async fn second_waiter(event: &Event) -> Result<(), CancelRequested> {
    event.wait().await
}

/// Receives one signal on `rx` and says which.
#[structured]
async fn signal_listener(rx: &mut scoro::signal::SignalReceiver) -> Result<(), CancelRequested> {
    let sig = rx.recv().await?;
    say(&format!("listener received signal {sig}"));
    Ok(())
}

/// Waits until the test closes this process's stdin.
#[structured]
async fn wait_for_the_test() -> Result<(), CancelRequested> {
    scoro::to_thread::run_sync(|| {
        let mut rest = Vec::new();
        let _ = io::stdin().lock().read_to_end(&mut rest);
    })
    .await
}

/// Two tasks blocked on an event (and, with `listen`, a third in a signal receiver for
/// SIGUSR1); then SIGUSR1; then, once the test has read the tree, the event is set and every
/// task finishes.
#[structured]
async fn blocked_program(listen: bool) -> Result<(), ErrorGroup<CancelRequested>> {
    let event = Event::new();
    let mut rx = if listen {
        Some(open_signal_receiver(&[SIGUSR1]).unwrap())
    } else {
        None
    };
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(first_waiter(&event));
        n.start_soon(second_waiter(&event));
        if let Some(rx) = &mut rx {
            n.start_soon(signal_listener(rx));
        }
        wait_all_tasks_blocked().await?;
        send_sigusr1_to_self();
        wait_for_the_test().await?;
        event.set();
        Ok(())
    })
    .await
}

/// Holds the runtime thread in one step for `STUCK_FOR`; with `signal`, sends SIGUSR1 at the
/// start of that step. Then waits until the run loop is idle (it has looked at I/O).
#[structured]
async fn holds_the_thread(signal: bool) -> Result<(), CancelRequested> {
    scoro::checkpoint().await?;
    if signal {
        send_sigusr1_to_self();
    }
    std::thread::sleep(STUCK_FOR);
    wait_all_tasks_blocked().await
}

#[structured]
async fn stuck_program(signal: bool) -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(holds_the_thread(signal));
        Ok(())
    })
    .await
}

#[structured]
async fn busy_in_short_steps() -> Result<(), CancelRequested> {
    for _ in 0..1000 {
        scoro::checkpoint().await?;
    }
    Ok(())
}

/// Many short steps, and a long idle wait (for a worker thread) longer than the threshold.
#[structured]
async fn healthy_program(idle: Duration) -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(busy_in_short_steps());
        scoro::to_thread::run_sync(move || std::thread::sleep(idle)).await?;
        Ok(())
    })
    .await
}

/// Sends itself SIGUSR1 (on this thread, so the handler has run when `raise` returns) and
/// finishes at once, before the run loop looks at I/O again.
#[structured]
async fn signal_at_the_end() {
    // SAFETY: `raise` has no preconditions; SIGUSR1 is handled while the run is active.
    unsafe {
        libc::raise(libc::SIGUSR1);
    }
}

#[structured]
async fn disposition_while_running() -> libc::sighandler_t {
    sigusr1_disposition()
}

/// `#[scoro::main]` with both options: a stuck step, then a tree dump.
#[scoro::main(dump_tree_on = SIGUSR1, watchdog_ms = 50)]
async fn main_with_options() -> Result<(), ErrorGroup<CancelRequested>> {
    stuck_program(false).await?;
    blocked_program(true).await
}

// ----- the test's side ----------------------------------------------------------------------

/// A child process running one scenario, and what it has written to stderr so far.
struct Child {
    process: std::process::Child,
    stderr: BufReader<ChildStderr>,
    seen: String,
    /// Dropped when the child has ended: stops the guard that kills a child that hangs.
    _guard: mpsc::Sender<()>,
}

impl Child {
    /// Runs `test` of this binary again as a child process, in `scenario`.
    fn start(test: &str, scenario: &str) -> Child {
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture"])
            .env(SCENARIO, scenario)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(process.stderr.take().unwrap());
        // A child that hangs (the behaviour under test broken) is killed after a minute, so
        // that the test fails with the child's output instead of hanging.
        let (guard, stop) = mpsc::channel::<()>();
        let pid = process.id() as libc::pid_t;
        std::thread::spawn(move || {
            if stop.recv_timeout(Duration::from_secs(60)) == Err(mpsc::RecvTimeoutError::Timeout) {
                // SAFETY: `kill` has no memory-safety preconditions; `pid` is our child, not
                // yet waited for (the guard is dropped only after `wait`).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        });
        Child {
            process,
            stderr,
            seen: String::new(),
            _guard: guard,
        }
    }

    /// Reads the child's stderr until it holds every one of `wanted`.
    fn read_until(&mut self, wanted: &[&str]) {
        while !wanted.iter().all(|w| self.seen.contains(w)) {
            let mut line = String::new();
            let n = self.stderr.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "the child's stderr ended without {wanted:?}:\n{}",
                self.seen
            );
            self.seen.push_str(&line);
        }
    }

    /// Closes the child's stdin, reads the rest of its stderr and waits for it to end.
    fn finish(mut self) -> (ExitStatus, String) {
        drop(self.process.stdin.take());
        self.stderr.read_to_string(&mut self.seen).unwrap();
        let status = self.process.wait().unwrap();
        (status, self.seen)
    }
}

/// The line of the printed tree that shows the task running function `name` of this file.
fn task_line<'a>(stderr: &'a str, name: &str) -> &'a str {
    let task = format!("tree_dump::{name} [task");
    stderr
        .lines()
        .find(|l| l.contains(&task))
        .unwrap_or_else(|| panic!("no task {name} in:\n{stderr}"))
}

// ----- the scenarios ------------------------------------------------------------------------

// SIGUSR1 while every task is blocked prints the header (the signal and the process id) and
// the tree with every task; the run then goes on undisturbed: nothing is cancelled, and every
// task finishes normally.
#[test]
fn a_signal_prints_the_tree_and_the_run_goes_on() {
    if scenario().as_deref() == Some("blocked") {
        let mut rt = Builder::new().dump_tree_on(SIGUSR1).build().unwrap();
        let result = rt.run(blocked_program(false));
        assert!(result.is_ok(), "{result:?}");
        say("run finished normally");
        return;
    }
    let mut child = Child::start("a_signal_prints_the_tree_and_the_run_goes_on", "blocked");
    let header = format!(
        "scoro: task tree on SIGUSR1 (pid {}):\nscoro task tree: ",
        child.process.id()
    );
    child.read_until(&[
        &header,
        "tree_dump::blocked_program [task",
        "tree_dump::first_waiter [task",
        "tree_dump::second_waiter [task",
    ]);
    let (status, stderr) = child.finish();
    assert!(status.success(), "{stderr}");
    assert_eq!(stderr.matches("scoro: task tree on").count(), 1, "{stderr}");
    for name in ["first_waiter", "second_waiter"] {
        assert!(task_line(&stderr, name).contains("] blocked"), "{stderr}");
    }
    assert!(stderr.contains("run finished normally"), "{stderr}");
}

// With a signal receiver open for the same signal, both happen: the tree is printed (as the
// signal found it, with the listener still blocked in `recv`) and then the receiver gets the
// signal.
#[test]
fn a_listener_of_the_signal_receives_it_and_the_tree_is_printed() {
    if scenario().as_deref() == Some("listener") {
        let mut rt = Builder::new().dump_tree_on(SIGUSR1).build().unwrap();
        let result = rt.run(blocked_program(true));
        assert!(result.is_ok(), "{result:?}");
        say("run finished normally");
        return;
    }
    let mut child = Child::start(
        "a_listener_of_the_signal_receives_it_and_the_tree_is_printed",
        "listener",
    );
    let received = format!("listener received signal {}", libc::SIGUSR1);
    child.read_until(&["scoro: task tree on SIGUSR1", &received]);
    let (status, stderr) = child.finish();
    assert!(status.success(), "{stderr}");
    let tree = stderr.find("scoro: task tree on SIGUSR1").unwrap();
    assert!(tree < stderr.find(&received).unwrap(), "{stderr}");
    assert!(
        task_line(&stderr, "signal_listener").contains("] blocked"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("scoro: task tree on").count(), 1, "{stderr}");
    assert!(stderr.contains("run finished normally"), "{stderr}");
}

// A step that blocks the runtime thread longer than the threshold is reported once, naming the
// task, and says what to do about it.
#[test]
fn the_watchdog_reports_a_step_that_holds_the_thread() {
    if scenario().as_deref() == Some("stuck") {
        let mut rt = Builder::new().watchdog(THRESHOLD).build().unwrap();
        assert!(rt.run(stuck_program(false)).is_ok());
        return;
    }
    let (status, stderr) =
        Child::start("the_watchdog_reports_a_step_that_holds_the_thread", "stuck").finish();
    assert!(status.success(), "{stderr}");
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("scoro: watchdog:"))
        .collect();
    assert_eq!(reports.len(), 1, "{stderr}");
    let report = reports[0];
    assert!(
        report.contains("task tree_dump::holds_the_thread [task")
            && report.contains("started at runtime/tests/tree_dump.rs:")
            && report.contains("has held the runtime thread for")
            && report.contains("scoro::to_thread::run_sync"),
        "{stderr}"
    );
}

// Short steps and long idle waits (longer than the threshold) are not stuck: the watchdog
// prints nothing.
#[test]
fn the_watchdog_is_silent_when_no_step_is_stuck() {
    if scenario().as_deref() == Some("healthy") {
        let threshold = Duration::from_millis(100);
        let mut rt = Builder::new().watchdog(threshold).build().unwrap();
        assert!(rt.run(healthy_program(threshold * 4)).is_ok());
        return;
    }
    let (status, stderr) =
        Child::start("the_watchdog_is_silent_when_no_step_is_stuck", "healthy").finish();
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("scoro:"), "{stderr}");
}

// A dump signal during a stuck step: the watchdog says at once that the tree waits for the
// step and which task holds the thread; the tree follows when the step ends.
#[test]
fn the_watchdog_announces_a_dump_delayed_by_a_stuck_step() {
    if scenario().as_deref() == Some("stuck dump") {
        let mut rt = Builder::new()
            .watchdog(THRESHOLD)
            .dump_tree_on(SIGUSR1)
            .build()
            .unwrap();
        assert!(rt.run(stuck_program(true)).is_ok());
        return;
    }
    let (status, stderr) = Child::start(
        "the_watchdog_announces_a_dump_delayed_by_a_stuck_step",
        "stuck dump",
    )
    .finish();
    assert!(status.success(), "{stderr}");
    let stuck = stderr
        .find("scoro: watchdog: task tree_dump::holds_the_thread")
        .expect(&stderr);
    let announced = stderr
        .find("scoro: watchdog: SIGUSR1 arrived while task tree_dump::holds_the_thread [task")
        .expect(&stderr);
    let tree = stderr.find("scoro: task tree on SIGUSR1").expect(&stderr);
    assert!(stuck < announced && announced < tree, "{stderr}");
    // Printed once the step had ended, with the task that held the thread still there.
    assert!(
        task_line(&stderr[tree..], "holds_the_thread").contains("] blocked"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the task tree will be printed when that step ends"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("scoro: watchdog:").count(), 2, "{stderr}");
}

// A dump signal that arrives in the last step of a run, after the run loop last looked for
// signals, is still answered: the tree (empty by then) is printed before `run` returns.
#[test]
fn a_signal_in_the_last_step_still_prints_the_tree() {
    if scenario().as_deref() == Some("last step") {
        let mut rt = Builder::new().dump_tree_on(SIGUSR1).build().unwrap();
        rt.run(signal_at_the_end());
        say("run returned");
        return;
    }
    let (status, stderr) = Child::start(
        "a_signal_in_the_last_step_still_prints_the_tree",
        "last step",
    )
    .finish();
    assert!(status.success(), "{stderr}");
    let tree = stderr
        .find("scoro: task tree on SIGUSR1 (pid ")
        .expect(&stderr);
    assert!(tree < stderr.find("run returned").unwrap(), "{stderr}");
    assert!(stderr.contains("scoro task tree: 0 tasks"), "{stderr}");
}

// After the run, SIGUSR1 has the disposition it had before (here: ignored); during the run it
// has the runtime's handler.
#[test]
fn the_disposition_comes_back_after_the_run() {
    if scenario().as_deref() == Some("disposition") {
        // SAFETY: `signal` has no memory-safety preconditions; SIG_IGN is a valid disposition.
        unsafe { libc::signal(libc::SIGUSR1, libc::SIG_IGN) };
        assert_eq!(sigusr1_disposition(), libc::SIG_IGN);
        let mut rt = Builder::new().dump_tree_on(SIGUSR1).build().unwrap();
        assert_eq!(
            sigusr1_disposition(),
            libc::SIG_IGN,
            "building installs nothing"
        );
        let during = rt.run(disposition_while_running());
        assert_ne!(during, libc::SIG_IGN);
        assert_ne!(during, libc::SIG_DFL);
        assert_eq!(sigusr1_disposition(), libc::SIG_IGN);
        say("disposition restored");
        return;
    }
    let (status, stderr) =
        Child::start("the_disposition_comes_back_after_the_run", "disposition").finish();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("disposition restored"), "{stderr}");
}

// `#[scoro::main(dump_tree_on = SIGUSR1, watchdog_ms = 50)]` sets up both.
#[test]
fn the_main_attribute_takes_both_options() {
    if scenario().as_deref() == Some("main") {
        assert!(main_with_options().is_ok());
        say("main finished normally");
        return;
    }
    let mut child = Child::start("the_main_attribute_takes_both_options", "main");
    child.read_until(&[
        "scoro: watchdog: task tree_dump::holds_the_thread [task",
        "scoro: task tree on SIGUSR1",
        "listener received signal",
    ]);
    let (status, stderr) = child.finish();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("main finished normally"), "{stderr}");
}

// A signal the tree cannot be printed on makes `build` fail, with a message that says why.
#[test]
fn build_refuses_a_signal_that_cannot_print_the_tree() {
    for (sig, why) in [
        (libc::SIGKILL, "SIGKILL: signal 9 cannot be caught"),
        (libc::SIGSTOP, "SIGSTOP: signal 19 cannot be caught"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGINT, "SIGINT: it is Ctrl-C"),
        (0, "0 is not a signal number"),
        (1000, "1000 is not a signal number"),
        (-1, "-1 is not a signal number"),
    ] {
        let e = Builder::new().dump_tree_on(sig).build().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{sig}: {e}");
        let message = e.to_string();
        assert!(
            message.starts_with("cannot print the task tree on ") && message.contains(why),
            "{sig}: {message}"
        );
    }
    let e = Builder::new().watchdog(Duration::ZERO).build().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}
