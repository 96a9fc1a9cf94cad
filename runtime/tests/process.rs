//! `scoro::process`: output captured in full, exit statuses, and the guarantee that a cancelled
//! wait (or a dropped `Child`) leaves no process running and no zombie, checked through
//! `/proc` and through pidfds of the processes themselves.

use scoro::io::{BufReader, Read, Write};
use scoro::lowlevel::wait_readable;
use scoro::process::{Child, Command, ExitError};
use scoro::{CancelScope, fail_after, nursery};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The state letter of process `pid` from `/proc/<pid>/stat` (`R`, `S`, `Z`, ..), or `None`
/// if there is no such process.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name in parentheses may contain spaces; the state follows the last `)`.
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// This process's children that still exist (running or zombie), from
/// `/proc/self/task/*/children`.
fn my_children() -> Vec<u32> {
    let mut children = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        if let Ok(list) = std::fs::read_to_string(path) {
            children.extend(list.split_whitespace().map(|p| p.parse::<u32>().unwrap()));
        }
    }
    children
}

/// Asserts that `pid` is neither running nor a zombie of ours: its `/proc` entry is gone.
#[track_caller]
fn assert_gone(pid: u32) {
    assert_eq!(proc_state(pid), None, "process {pid} still exists");
    assert!(
        !my_children().contains(&pid),
        "process {pid} is still our child"
    );
}

/// A pidfd for any process: readable once it has exited (used here for processes that are
/// not our children, which `scoro::process` cannot wait for).
fn pidfd(pid: u32) -> OwnedFd {
    // SAFETY: `pidfd_open` reads no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(fd >= 0, "pidfd_open: {}", io::Error::last_os_error());
    // SAFETY: a descriptor just returned by `pidfd_open`, owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Reads one line from a child's standard output.
#[scoro::structured]
async fn first_line(child: &mut Child) -> io::Result<String> {
    let stdout = child.stdout.as_mut().expect("stdout is piped");
    let mut line = Vec::new();
    let mut byte = [0];
    loop {
        stdout.read_exact(&mut byte).await?;
        if byte[0] == b'\n' {
            return Ok(String::from_utf8(line).unwrap());
        }
        line.push(byte[0]);
    }
}

/// Waits for `child` in a cancelled scope, which must end and reap it.
#[scoro::structured]
async fn cancelled_wait(child: &mut Child) -> io::Result<()> {
    let scope = CancelScope::new();
    scope.handle().cancel();
    assert!(scope.run(child.wait()).await.is_none());
    assert!(
        child.try_wait()?.is_some(),
        "the cancelled wait reaped the child"
    );
    Ok(())
}

#[scoro::test]
async fn output_is_captured_in_full_from_both_streams_at_once() -> io::Result<()> {
    // Standard error first and far more than a pipe holds: reading the outputs one after the
    // other would leave the child stuck writing it.
    let output = Command::new("sh")
        .args(["-c", "seq 1 100000 >&2; seq 1 200000"])
        .run()
        .await?;
    let expect = |n: u32| {
        (1..=n)
            .map(|i| format!("{i}\n"))
            .collect::<String>()
            .into_bytes()
    };
    assert!(output.status.success());
    assert_eq!(output.stdout, expect(200_000));
    assert_eq!(output.stderr, expect(100_000));
    Ok(())
}

#[scoro::test]
async fn output_keeps_a_failed_status_and_run_reports_it() -> io::Result<()> {
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "echo out; echo first >&2; echo 'last words' >&2; exit 3",
    ]);
    let output = cmd.output().await?;
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(output.stdout, b"out\n");

    let err = cmd.run().await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Other);
    assert_eq!(
        err.to_string(),
        "`sh` failed with exit status: 3: last words"
    );
    let failed = ExitError::from_io(&err).unwrap();
    assert_eq!(failed.status().code(), Some(3));
    assert_eq!(failed.program(), "sh");
    assert_eq!(failed.output().stderr, b"first\nlast words\n");
    assert_eq!(failed.output().stdout, b"out\n");
    Ok(())
}

#[scoro::test]
async fn status_and_input() -> io::Result<()> {
    let status = Command::new("sh").args(["-c", "exit 5"]).status().await?;
    assert_eq!(status.code(), Some(5));

    // Input larger than a pipe, fed while the output is read.
    let input: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .await?;
    let output = child.communicate(&input).await?;
    assert!(output.status.success());
    assert_eq!(output.stdout, input);
    assert_eq!(child.try_wait()?, Some(output.status));
    Ok(())
}

#[scoro::test]
async fn bad_commands_are_clear_errors() -> io::Result<()> {
    let err = Command::new("/no/such/program").spawn().await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(
        err.to_string()
            .contains("could not start `/no/such/program`"),
        "{err}"
    );

    let err = Command::new("true")
        .kill_signal(0)
        .spawn()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let err = Command::new("true")
        .kill_signal(1000)
        .status()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

    // Input for a child whose standard input is not a pipe: refused before anything happens.
    let mut child = Command::new("true").spawn().await?;
    let err = child.communicate(b"lost?").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(child.wait().await?.success());
    Ok(())
}

#[scoro::test]
async fn a_shut_down_stdin_ends_the_childs_input_and_refuses_writes() -> io::Result<()> {
    let mut child = Command::new("wc")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .await?;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"12345").await?;
    stdin.shutdown().await?;
    stdin.shutdown().await?;
    let err = stdin.write(b"more").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(first_line(&mut child).await?.trim(), "5");
    assert!(child.wait().await?.success());
    Ok(())
}

#[scoro::test]
async fn a_cancelled_wait_ends_the_child_and_reaps_it() -> io::Result<()> {
    let mut child = Command::new("sleep").arg("1000").spawn().await?;
    let pid = child.id();
    assert!(my_children().contains(&pid));
    cancelled_wait(&mut child).await?;
    // Ended by the default kill signal (it did not need the SIGKILL), and reaped.
    assert_eq!(
        child.try_wait()?.and_then(|s| s.signal()),
        Some(libc::SIGTERM)
    );
    assert_gone(pid);
    // A later wait is a checkpoint that gives the same status.
    assert_eq!(child.wait().await?.signal(), Some(libc::SIGTERM));
    Ok(())
}

#[scoro::test(autojump)]
async fn a_child_that_ignores_the_kill_signal_gets_sigkill_after_the_grace() -> io::Result<()> {
    let grace = Duration::from_secs(30);
    let mut child = Command::new("sh")
        .args(["-c", "trap '' TERM; echo ready; exec sleep 1000"])
        .stdout(Stdio::piped())
        .kill_grace(grace)
        .spawn()
        .await?;
    let pid = child.id();
    assert_eq!(first_line(&mut child).await?, "ready");
    let start = scoro::current_time();
    cancelled_wait(&mut child).await?;
    assert_eq!(
        child.try_wait()?.and_then(|s| s.signal()),
        Some(libc::SIGKILL)
    );
    // The mock clock went through the whole grace, and no further.
    assert_eq!(scoro::current_time() - start, grace);
    assert_gone(pid);
    Ok(())
}

#[scoro::test]
async fn no_grace_means_sigkill_at_once() -> io::Result<()> {
    // A mock clock that never moves: only a zero grace can reach the SIGKILL.
    let mut child = Command::new("sh")
        .args(["-c", "trap '' TERM; echo ready; exec sleep 1000"])
        .stdout(Stdio::piped())
        .kill_grace(Duration::ZERO)
        .spawn()
        .await?;
    let pid = child.id();
    assert_eq!(first_line(&mut child).await?, "ready");
    cancelled_wait(&mut child).await?;
    assert_eq!(
        child.try_wait()?.and_then(|s| s.signal()),
        Some(libc::SIGKILL)
    );
    assert_gone(pid);

    // SIGKILL as the kill signal: no grace either.
    let mut child = Command::new("sleep")
        .arg("1000")
        .kill_signal(libc::SIGKILL)
        .spawn()
        .await?;
    cancelled_wait(&mut child).await?;
    assert_eq!(
        child.try_wait()?.and_then(|s| s.signal()),
        Some(libc::SIGKILL)
    );
    Ok(())
}

#[scoro::test]
async fn a_child_that_handles_the_kill_signal_exits_in_its_own_way() -> io::Result<()> {
    // The clock is a mock one that never moves here: the grace cannot run out, so the
    // status below can only come from the child's own handler.
    let mut child = Command::new("sh")
        .args([
            "-c",
            "trap 'echo bye; kill $p; exit 42' USR1; sleep 1000 & p=$!; echo ready; wait $p",
        ])
        .stdout(Stdio::piped())
        .kill_signal(scoro::signal::SIGUSR1)
        .spawn()
        .await?;
    assert_eq!(first_line(&mut child).await?, "ready");
    cancelled_wait(&mut child).await?;
    assert_eq!(child.try_wait()?.and_then(|s| s.code()), Some(42));
    assert_eq!(first_line(&mut child).await?, "bye");
    Ok(())
}

#[scoro::test]
async fn a_new_process_group_ends_with_its_leader() -> io::Result<()> {
    let mut child = Command::new("sh")
        .args(["-c", "sleep 1000 & echo $!; wait"])
        .stdout(Stdio::piped())
        .new_process_group(true)
        .spawn()
        .await?;
    let pid = child.id();
    let grandchild: u32 = first_line(&mut child).await?.parse().unwrap();
    let grandchild_exit = pidfd(grandchild);
    cancelled_wait(&mut child).await?;
    assert_gone(pid);
    // The grandchild (not ours to reap) has exited too.
    fail_after(
        Duration::from_secs(10),
        wait_readable(grandchild_exit.as_raw_fd()),
    )
    .await
    .expect("the mock clock does not move")?;
    assert!(matches!(proc_state(grandchild), None | Some('Z')));
    Ok(())
}

#[scoro::test]
async fn a_timeout_over_many_children_leaves_none() -> io::Result<()> {
    let mut pids = Vec::new();
    let scope = CancelScope::new();
    let handle = scope.handle();
    let result = scope
        .run(nursery(async |n| -> io::Result<()> {
            for _ in 0..40 {
                let mut child = Command::new("sleep").arg("1000").spawn().await?;
                pids.push(child.id());
                n.start_soon(async move { child.wait().await.map(drop) });
            }
            scoro::testing::wait_all_tasks_blocked().await?;
            handle.cancel();
            Ok(())
        }))
        .await;
    assert!(result.is_none());
    assert_eq!(pids.len(), 40);
    for pid in pids {
        assert_gone(pid);
    }
    Ok(())
}

#[test]
fn a_dropped_child_is_killed_and_reaped() {
    #[scoro::structured]
    async fn start_and_forget() -> io::Result<(u32, OwnedFd)> {
        let child = Command::new("sleep").arg("1000").spawn().await?;
        let pid = child.id();
        let exit = pidfd(pid);
        drop(child);
        Ok((pid, exit))
    }
    let (pid, exit) = scoro::run(start_and_forget()).unwrap();
    // Killed: its pidfd becomes readable (the kernel may take a moment to finish the kill).
    let mut poll = libc::pollfd {
        fd: exit.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `poll` is one valid `pollfd` for the duration of the call.
    let ready = unsafe { libc::poll(&mut poll, 1, 10_000) };
    assert_eq!(ready, 1, "process {pid} was not killed");
    // Reaped by the time `drop` returned or, if it had not died yet, by the reaper thread
    // right after.
    let start = Instant::now();
    while proc_state(pid).is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "process {pid} was not reaped"
        );
        std::thread::yield_now();
    }
    assert!(!my_children().contains(&pid));
}

#[scoro::test]
async fn a_pipeline_passes_bytes_from_child_to_child() -> io::Result<()> {
    let mut seq = Command::new("seq")
        .args(["1", "1000"])
        .stdout(Stdio::piped())
        .spawn()
        .await?;
    let mut grep = Command::new("grep")
        .arg("7")
        .stdin(Stdio::try_from(seq.stdout.take().unwrap())?)
        .stdout(Stdio::piped())
        .spawn()
        .await?;
    let wc = Command::new("wc")
        .arg("-l")
        .stdin(Stdio::try_from(grep.stdout.take().unwrap())?)
        .output()
        .await?;
    assert!(seq.wait().await?.success());
    assert!(grep.wait().await?.success());
    // 1..=1000 has 729 numbers without a 7 among 0..=999.
    assert_eq!(String::from_utf8_lossy(&wc.stdout).trim(), "271");
    Ok(())
}

#[scoro::test]
async fn output_streams_line_by_line_while_the_child_runs() -> io::Result<()> {
    // The child waits for each answer, so every line must arrive while it runs.
    let mut child = Command::new("sh")
        .args(["-c", "for i in 1 2 3; do echo line $i; read reply; done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .await?;
    let mut stdin = child.stdin.take().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = reader.lines();
    let mut seen = Vec::new();
    while let Some(line) = lines.next().await? {
        seen.push(line);
        stdin.write_all(b"ok\n").await?;
    }
    assert_eq!(seen, ["line 1", "line 2", "line 3"]);
    assert!(child.wait().await?.success());
    assert!(Path::new("/proc/self").exists());
    Ok(())
}
