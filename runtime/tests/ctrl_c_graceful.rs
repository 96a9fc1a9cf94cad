//! The documented graceful-shutdown pattern (wait for Ctrl-C, then cancel) and a cleanup that
//! hangs: the second Ctrl-C ends the process, as for the default handling. Runs the program
//! as a child process and signals it.

use scoro::signal::wait_for_ctrl_c;
use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelScope, nursery, structured};
use std::io::{self, BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROLE: &str = "SCORO_CTRL_C_GRACEFUL_ROLE";

fn say(line: &str) {
    println!("{line}");
}

#[structured]
async fn server() -> io::Result<()> {
    let Err(c) = scoro::sleep_forever().await;
    say("cleaning up");
    // A cleanup that hangs, where Ctrl-C cannot reach it.
    CancelScope::new()
        .with_shield(true)
        .run(scoro::sleep(Duration::from_secs(60)))
        .await;
    Err(c.into())
}

#[structured]
async fn graceful() -> io::Result<()> {
    nursery(async |n| -> io::Result<()> {
        n.start_soon(server());
        n.start_soon(async {
            wait_all_tasks_blocked().await?;
            say("ready");
            Ok::<(), io::Error>(())
        });
        wait_for_ctrl_c().await?;
        say("shutting down");
        n.cancel();
        Ok(())
    })
    .await?;
    Ok(())
}

#[test]
fn the_second_ctrl_c_ends_a_graceful_shutdown_that_hangs() {
    if std::env::var(ROLE).is_ok() {
        // Start from the default disposition whatever the harness inherited.
        // SAFETY: `signal` has no memory-safety preconditions; SIG_DFL is a valid disposition.
        unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
        let _ = scoro::run(graceful());
        say("returned");
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "the_second_ctrl_c_ends_a_graceful_shutdown_that_hangs",
            "--exact",
            "--nocapture",
        ])
        .env(ROLE, "child")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let interrupt = || {
        // SAFETY: `kill` has no memory-safety preconditions; `pid` is our unreaped child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    };
    let mut seen = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        match line.as_str() {
            "ready" => interrupt(),
            // The first Ctrl-C was the listener's; the cleanup now hangs: press again.
            "cleaning up" => interrupt(),
            _ => {}
        }
        seen.push(line);
        if seen.last().is_some_and(|l| l == "cleaning up") {
            break;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the second Ctrl-C did not end the process; it printed {seen:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.signal(), Some(libc::SIGINT), "{seen:?}");
    assert!(seen.iter().any(|l| l == "shutting down"), "{seen:?}");
}
