//! Child processes leave no descriptor behind: pidfds and pipes are closed whichever way a
//! child ends (its own test binary, so that no other test opens descriptors meanwhile).

use scoro::process::Command;
use std::io;
use std::process::Stdio;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[scoro::test]
async fn children_leave_no_descriptors_open() -> io::Result<()> {
    // One round first, so that whatever the runtime opens once (its worker threads' state,
    // say) is in the baseline.
    Command::new("true").run().await?;
    let before = open_fds();
    for i in 0..100 {
        let output = Command::new("echo").arg(i.to_string()).run().await?;
        assert_eq!(output.stdout, format!("{i}\n").into_bytes());
        assert!(Command::new("true").status().await?.success());
        // Dropped while running, with every stream piped.
        let child = Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await?;
        drop(child);
        // Cancelled while running.
        let mut child = Command::new("sleep").arg("1000").spawn().await?;
        let scope = scoro::CancelScope::new();
        scope.handle().cancel();
        assert!(scope.run(child.wait()).await.is_none());
    }
    assert_eq!(open_fds(), before);
    Ok(())
}
