//! Socket addresses: the `ToSocketAddrs` trait and name resolution.
//!
//! Invariants: an address that is already numeric is used as it is, on the runtime's thread;
//! only host names go to the resolver, which runs on a worker thread (the system resolver
//! blocks) as an abandonable call, so a cancelled lookup returns at once.

use crate::CoroutineCall;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Something that names one or more socket addresses: a [`SocketAddr`], an `(ip, port)` pair,
/// a `"host:port"` string or a `(host, port)` pair.
///
/// The same conversions as [`std::net::ToSocketAddrs`], except that host names are resolved
/// on a worker thread (as a cancellable call), so a slow resolver never blocks the runtime.
/// Numeric addresses need no resolution. Sealed: scoro provides every implementation.
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<Vec<SocketAddr>> {
///     let mut all = scoro::net::lookup_host("127.0.0.1:80").await?;
///     all.extend(scoro::net::lookup_host((Ipv4Addr::LOCALHOST, 443)).await?);
///     Ok(all)
/// }
///
/// let addrs = scoro::run(main_task())?;
/// assert_eq!(addrs, ["127.0.0.1:80".parse::<SocketAddr>().unwrap(), "127.0.0.1:443".parse().unwrap()]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use super::Addrs;

    /// Turns a value into addresses, or into a name to resolve.
    #[allow(
        unreachable_pub,
        reason = "sealed-trait pattern: public in a private module, so nobody else can implement it"
    )]
    pub trait Sealed {
        /// The addresses, or the host name and port to look up.
        fn to_addrs(&self) -> Addrs;
    }
}

/// What a [`ToSocketAddrs`] value stands for.
#[allow(unreachable_pub, reason = "appears in the sealed trait only")]
#[derive(Debug)]
pub enum Addrs {
    /// Numeric addresses, ready to use.
    Resolved(Vec<SocketAddr>),
    /// A host name and port to resolve.
    Lookup(String, u16),
    /// A string that names no address.
    Invalid(String),
}

fn from_host_port(host: &str, port: u16) -> Addrs {
    match host.parse::<IpAddr>() {
        Ok(ip) => Addrs::Resolved(vec![SocketAddr::new(ip, port)]),
        Err(_) => {
            // `[::1]` style literals, as in URLs.
            let bare = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<Ipv6Addr>().ok());
            match bare {
                Some(ip) => Addrs::Resolved(vec![SocketAddr::new(IpAddr::V6(ip), port)]),
                None => Addrs::Lookup(host.to_string(), port),
            }
        }
    }
}

macro_rules! resolved {
    ($($t:ty => |$v:ident| $e:expr;)*) => {
        $(
            impl ToSocketAddrs for $t {}
            impl sealed::Sealed for $t {
                fn to_addrs(&self) -> Addrs {
                    let $v = self;
                    Addrs::Resolved($e)
                }
            }
        )*
    };
}

resolved! {
    SocketAddr => |a| vec![*a];
    SocketAddrV4 => |a| vec![SocketAddr::V4(*a)];
    SocketAddrV6 => |a| vec![SocketAddr::V6(*a)];
    (IpAddr, u16) => |a| vec![SocketAddr::new(a.0, a.1)];
    (Ipv4Addr, u16) => |a| vec![SocketAddr::new(IpAddr::V4(a.0), a.1)];
    (Ipv6Addr, u16) => |a| vec![SocketAddr::new(IpAddr::V6(a.0), a.1)];
    [SocketAddr] => |a| a.to_vec();
    Vec<SocketAddr> => |a| a.clone();
}

impl<const N: usize> ToSocketAddrs for [SocketAddr; N] {}
impl<const N: usize> sealed::Sealed for [SocketAddr; N] {
    fn to_addrs(&self) -> Addrs {
        Addrs::Resolved(self.to_vec())
    }
}

impl ToSocketAddrs for str {}
impl sealed::Sealed for str {
    fn to_addrs(&self) -> Addrs {
        if let Ok(a) = self.parse::<SocketAddr>() {
            return Addrs::Resolved(vec![a]);
        }
        match self.rsplit_once(':') {
            Some((host, port)) => match port.parse::<u16>() {
                Ok(port) => from_host_port(host, port),
                Err(_) => Addrs::Invalid(format!("invalid port in address `{self}`")),
            },
            None => Addrs::Invalid(format!(
                "address `{self}` has no port; write it as `host:port`"
            )),
        }
    }
}

impl ToSocketAddrs for String {}
impl sealed::Sealed for String {
    fn to_addrs(&self) -> Addrs {
        self.as_str().to_addrs()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::Sealed for (&str, u16) {
    fn to_addrs(&self) -> Addrs {
        from_host_port(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::Sealed for (String, u16) {
    fn to_addrs(&self) -> Addrs {
        from_host_port(&self.0, self.1)
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {
    fn to_addrs(&self) -> Addrs {
        (**self).to_addrs()
    }
}

/// Resolves `addr` into socket addresses (a host name through the system resolver, on a
/// worker thread).
///
/// A checkpoint. Fails if the name does not resolve, or resolves to no address; a cancelled
/// lookup returns at once (the resolver finishes alone in the background).
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let addrs = scoro::net::lookup_host(("localhost", 8080)).await?;
///     Ok(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080))
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn lookup_host(
    addr: impl ToSocketAddrs,
) -> CoroutineCall<impl Future<Output = io::Result<Vec<SocketAddr>>>> {
    CoroutineCall::internal(
        async move {
            crate::checkpoint().inline().await?;
            resolve(&addr).await
        },
        "scoro::net",
        "lookup_host",
    )
}

/// Resolves `addr`. Numeric addresses cost nothing (no checkpoint: callers checkpoint around
/// it); host names go to a worker thread.
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    let addrs = match addr.to_addrs() {
        Addrs::Resolved(addrs) => addrs,
        Addrs::Invalid(msg) => return Err(io::Error::new(io::ErrorKind::InvalidInput, msg)),
        Addrs::Lookup(host, port) => {
            let lookup = crate::to_thread::run_sync_abandon(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                    .map(|it| it.collect::<Vec<_>>())
                    .map_err(|e| {
                        io::Error::new(e.kind(), format!("could not resolve `{host}`: {e}"))
                    })
            });
            lookup.inline().await??
        }
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        ));
    }
    Ok(addrs)
}
