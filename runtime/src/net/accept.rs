//! Accepting connections: the errors that concern one connection, not the listener.
//!
//! Invariant: `accept` on a listener retries at once after an error that only says that one
//! pending connection failed before it could be accepted (the peer reset it, the network under
//! it went away, a firewall refused it), as Trio's listeners do. Every other error is
//! returned; running out of descriptors or memory is left to the caller (`serve_tcp` backs
//! off), since retrying at once would spin.

use std::io;

/// Is `e` an accept error about one failed connection, after which the listener is fine?
pub(super) fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNABORTED
                | libc::EPROTO
                | libc::EPERM
                | libc::ENETDOWN
                | libc::ENOPROTOOPT
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ENETUNREACH
        )
    )
}

/// Runs the non-blocking `accept` until it gives a connection or an error that is not about one
/// failed connection (`WouldBlock` included: the caller then waits for readiness).
pub(super) fn skipping_failed_connections<T>(
    mut accept: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    loop {
        match accept() {
            Err(e) if is_per_connection(&e) => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_connections_are_skipped_and_other_errors_returned() {
        let mut errors = vec![
            io::Error::from_raw_os_error(libc::ECONNABORTED),
            io::Error::from_raw_os_error(libc::EPROTO),
            io::Error::from_raw_os_error(libc::ENETUNREACH),
        ]
        .into_iter();
        let got = skipping_failed_connections(|| errors.next().map_or(Ok(7), Err));
        assert_eq!(
            got.unwrap(),
            7,
            "three failed connections skipped, then the good one"
        );

        for errno in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::ENOMEM,
            libc::EBADF,
            libc::EINVAL,
        ] {
            let e =
                skipping_failed_connections(|| Err::<(), _>(io::Error::from_raw_os_error(errno)))
                    .unwrap_err();
            assert_eq!(e.raw_os_error(), Some(errno));
        }
        let e = skipping_failed_connections(|| Err::<(), _>(io::ErrorKind::WouldBlock.into()))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
}
