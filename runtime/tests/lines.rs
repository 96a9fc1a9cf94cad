//! `BufReader::lines` and `BufReader::split`: lines across partial writes, the last line
//! without a newline, CRLF, a cancelled `next` that loses nothing, and the length limit.

use scoro::io::{BufReader, Write};
use scoro::net::UnixStream;
use scoro::{CancelRequested, ErrorGroup, current_time, move_on_after, nursery, sleep, structured};
use std::io;
use std::time::Duration;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[structured]
async fn write_in_pieces(mut out: UnixStream, pieces: &[&[u8]]) -> io::Result<()> {
    for piece in pieces {
        out.write_all(piece).await?;
        sleep(Duration::from_millis(10)).await?;
    }
    Ok(())
}

#[structured]
async fn read_lines(input: UnixStream) -> io::Result<Vec<String>> {
    let mut reader = BufReader::with_capacity(4, input);
    let mut lines = reader.lines();
    let mut got = Vec::new();
    while let Some(line) = lines.next().await? {
        got.push(line);
    }
    Ok(got)
}

#[scoro::test(autojump)]
async fn lines_across_partial_writes() -> TestResult {
    let (a, b) = UnixStream::pair()?;
    let pieces: &[&[u8]] = &[b"fir", b"st\nsec", b"ond line is longer\n", b"\nthi", b"rd"];
    let got = nursery(async |n| -> io::Result<Vec<String>> {
        n.start_soon(write_in_pieces(a, pieces));
        read_lines(b).await
    })
    .await
    .map_err(|e: ErrorGroup<io::Error>| e.to_string())?;
    assert_eq!(got, ["first", "second line is longer", "", "third"]);
    Ok(())
}

#[scoro::test]
async fn the_last_line_needs_no_newline_and_an_empty_stream_has_none() -> io::Result<()> {
    let mut reader = BufReader::new(&b"only"[..]);
    let mut lines = reader.lines();
    assert_eq!(lines.next().await?.as_deref(), Some("only"));
    assert_eq!(lines.next().await?, None);
    assert_eq!(lines.next().await?, None);

    let mut empty = BufReader::new(&b""[..]);
    assert_eq!(empty.lines().next().await?, None);
    Ok(())
}

#[scoro::test]
async fn crlf_and_lf_are_stripped_other_cr_is_kept() -> io::Result<()> {
    let mut reader = BufReader::with_capacity(3, &b"a\r\nb\n\r\nc\rd\n\r\r\ne\r"[..]);
    let mut lines = reader.lines();
    let mut got = Vec::new();
    while let Some(line) = lines.next().await? {
        got.push(line);
    }
    assert_eq!(got, ["a", "b", "", "c\rd", "\r", "e\r"]);
    Ok(())
}

#[scoro::test]
async fn split_strips_only_its_delimiter() -> io::Result<()> {
    let mut reader = BufReader::with_capacity(2, &b"x\r;;long record;tail"[..]);
    let mut records = reader.split(b';');
    let mut got = Vec::new();
    while let Some(record) = records.next().await? {
        got.push(record);
    }
    assert_eq!(got, [&b"x\r"[..], b"", b"long record", b"tail"]);
    Ok(())
}

#[scoro::test(autojump)]
async fn a_cancelled_next_loses_nothing() -> TestResult {
    let (mut a, b) = UnixStream::pair()?;
    let mut reader = BufReader::with_capacity(4, b);
    let mut lines = reader.lines();

    a.write_all(b"the first half, ").await?;
    let start = current_time();
    let timed_out = move_on_after(Duration::from_secs(1), lines.next()).await;
    assert!(timed_out.is_none(), "{timed_out:?}");
    assert_eq!(current_time(), start + Duration::from_secs(1));

    a.write_all(b"then the second\r\nnext").await?;
    assert_eq!(
        lines.next().await?.as_deref(),
        Some("the first half, then the second")
    );
    // Cancelled again, in the middle of `next`; the partial line is kept again.
    assert!(
        move_on_after(Duration::from_secs(1), lines.next())
            .await
            .is_none()
    );
    a.write_all(b" line\n").await?;
    drop(a);
    assert_eq!(lines.next().await?.as_deref(), Some("next line"));
    assert_eq!(lines.next().await?, None);
    Ok(())
}

#[scoro::test]
async fn a_cancelled_next_returns_the_cancellation() -> io::Result<()> {
    let mut reader = BufReader::new(&b"ready\n"[..]);
    let mut lines = reader.lines();
    let cancelled = scoro::CancelScope::new()
        .with_deadline(current_time())
        .run(lines.next())
        .await;
    assert!(cancelled.is_none());
    assert_eq!(lines.next().await?.as_deref(), Some("ready"));
    Ok(())
}

#[scoro::test]
async fn a_line_longer_than_max_len_is_an_error_and_is_skipped() -> io::Result<()> {
    let mut input = b"12345\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 100_000));
    input.extend_from_slice(b"\n123456\n1234\r\nend");
    let mut reader = BufReader::with_capacity(8, &input[..]);
    let mut lines = reader.lines().max_len(5);
    assert_eq!(lines.next().await?.as_deref(), Some("12345"));

    let err = lines.next().await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        err.to_string(),
        "the line is longer than its limit of 5 bytes"
    );
    // The rest of the long line is dropped; the next line is too long by one byte.
    let err = lines.next().await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    // A line of exactly `max_len` bytes with `\r\n` fits.
    assert_eq!(lines.next().await?.as_deref(), Some("1234"));
    assert_eq!(lines.next().await?.as_deref(), Some("end"));
    assert_eq!(lines.next().await?, None);
    Ok(())
}

#[scoro::test]
async fn a_line_longer_than_max_len_is_never_held_whole() -> io::Result<()> {
    let long = vec![b'x'; 100_000];
    let mut reader = BufReader::with_capacity(8, &long[..]);
    let err = reader.lines().max_len(5).next().await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(reader.buffer().len() <= 16, "{}", reader.buffer().len());
    Ok(())
}

#[scoro::test]
async fn split_max_len_counts_the_record_without_its_delimiter() -> io::Result<()> {
    let mut reader = BufReader::with_capacity(2, &b"abc;abcd;ab"[..]);
    let mut records = reader.split(b';').max_len(3);
    assert_eq!(records.next().await?, Some(b"abc".to_vec()));
    assert_eq!(
        records.next().await.unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
    assert_eq!(records.next().await?, Some(b"ab".to_vec()));
    assert_eq!(records.next().await?, None);
    Ok(())
}

#[scoro::test]
async fn a_line_that_is_not_utf8_is_an_error_and_the_next_line_follows() -> io::Result<()> {
    let mut reader = BufReader::new(&b"ok\n\xff\xfe\nafter\n"[..]);
    let mut lines = reader.lines();
    assert_eq!(lines.next().await?.as_deref(), Some("ok"));
    assert_eq!(
        lines.next().await.unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
    assert_eq!(lines.next().await?.as_deref(), Some("after"));
    Ok(())
}

#[scoro::test(autojump)]
async fn lines_stop_at_cancellation_in_a_loop() -> Result<(), CancelRequested> {
    // The `while let` loop inside a timeout: the timeout ends it, as any checkpoint does.
    let (_a, b) = UnixStream::pair().unwrap();
    let got = move_on_after(Duration::from_secs(3), read_lines(b)).await;
    assert!(got.is_none());
    Ok(())
}
