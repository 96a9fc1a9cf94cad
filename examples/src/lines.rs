//! Reading lines from clients without letting one of them make a server buffer without end.

use scoro::io::{BufReader, Read};
use scoro::structured;
use std::io;

/// Reads one line (up to and including its `\n`) into `line`; returns its length, 0 at the
/// end of the stream. A line longer than `max` bytes is an `InvalidData` error: a client that
/// sends an endless line must not make the server buffer all of it. Bytes that are not UTF-8
/// are replaced with `U+FFFD`.
#[structured]
pub async fn read_line_capped<R: Read>(
    reader: &mut BufReader<R>,
    line: &mut String,
    max: usize,
) -> io::Result<usize> {
    let mut bytes = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            break;
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if bytes.len() + take > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("sent a line longer than {max} bytes"),
            ));
        }
        bytes.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if done {
            break;
        }
    }
    line.push_str(&String::from_utf8_lossy(&bytes));
    Ok(bytes.len())
}
